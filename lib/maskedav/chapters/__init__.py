"""Chapter modules: each chapter's arms, tables, figures and sentences, on the study layer."""
