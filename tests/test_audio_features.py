"""Audio features: Kaldi fbank (batched = torchaudio per clip), normalisation constants, pad/crop, XKD mel."""
import math

import pytest
import torch
import torchaudio

from maskedav.data.audio import (FBANK_STATS, XKD_MEL, denormalize_fbank, fbank, fbank_reference, log_mel,
                                 normalize_fbank, num_fbank_frames, num_log_mel_frames, pad_or_crop)


@pytest.fixture(scope="module")
def waves():
    g = torch.Generator().manual_seed(0)
    t = torch.arange(16000) / 16000
    return torch.stack([0.3 * torch.sin(2 * math.pi * 440 * t), 0.1 * torch.randn(16000, generator=g),
                        0.2 * torch.sin(2 * math.pi * 3000 * t) + 0.05, torch.zeros(16000)])


def test_batched_fbank_equals_torchaudio_kaldi_per_clip(waves):
    fb = fbank(waves, 16000, num_mel_bins=128)
    assert fb.shape == (4, 98, 128)                        # 1 + (16000 - 400) // 160 frames
    for b in range(4):
        ref = fbank_reference(waves[b], 16000, 128)
        assert torch.allclose(fb[b], ref, atol=1e-4), b
    assert torch.equal(fbank(waves[0], num_mel_bins=128), fb[0])
    assert fbank(waves, num_mel_bins=32).shape == (4, 98, 32)
    # the paper call: de-meaned waveform (a DC offset changes nothing)
    assert torch.allclose(fbank(waves[2] + 0.3), fbank(waves[2]), atol=5e-3)  # float rounding in empty bands
    # silence floors at log(float eps)
    assert torch.allclose(fb[3], torch.full_like(fb[3], math.log(torch.finfo(torch.float32).eps)))


def test_fbank_matches_the_papers_exact_call():
    w = 0.1 * torch.randn(1, 24000, generator=torch.Generator().manual_seed(1))
    ref = torchaudio.compliance.kaldi.fbank(w - w.mean(), htk_compat=True, sample_frequency=16000,
                                            use_energy=False, window_type="hanning", num_mel_bins=128,
                                            dither=0.0, frame_shift=10)
    assert torch.allclose(fbank(w[0]), ref, atol=1e-4)


def test_frame_counts():
    assert num_fbank_frames(16000) == 98 and num_fbank_frames(160000) == 998
    assert num_fbank_frames(399) == 0
    assert num_log_mel_frames(64000) == 448                 # XKD: 4 s -> 80 x 448


def test_normalisation_constants():
    x = torch.tensor([-5.081, -5.081 + 4.4849])
    assert torch.allclose(normalize_fbank(x, "cav-mae"), torch.tensor([0.0, 1.0]))
    y = torch.tensor([-4.2677393, -4.2677393 + 2 * 4.5689974])
    assert torch.allclose(normalize_fbank(y, "audiomae"), torch.tensor([0.0, 1.0]))
    z = torch.tensor([-6.6268077 + 5.358466])
    assert torch.allclose(normalize_fbank(z, "audiomae-esc50"), torch.tensor([0.5]))
    assert torch.allclose(normalize_fbank(torch.tensor([3.0]), (1.0, 2.0)), torch.tensor([1.0]))
    v = torch.randn(5, 7)
    for key in FBANK_STATS:
        assert torch.allclose(denormalize_fbank(normalize_fbank(v, key), key), v, atol=1e-5)
    with pytest.raises(ValueError):
        normalize_fbank(v, "imagenet")


def test_pad_or_crop():
    x = torch.arange(12.0).view(4, 3)
    padded = pad_or_crop(x, 6)
    assert padded.shape == (6, 3) and torch.equal(padded[:4], x) and (padded[4:] == 0).all()
    assert torch.equal(pad_or_crop(x, 2), x[:2])
    batch = torch.ones(2, 5, 3)
    assert pad_or_crop(batch, 8).shape == (2, 8, 3) and pad_or_crop(batch, 8)[:, 5:].sum() == 0
    assert pad_or_crop(batch, 2, dim=-1).shape == (2, 5, 2)
    assert fbank(torch.randn(16000), target_length=128).shape == (128, 128)


def test_xkd_log_mel():
    assert (XKD_MEL["n_fft"], XKD_MEL["hop_length"], XKD_MEL["n_mels"]) == (1024, 143, 80)
    w = 0.1 * torch.randn(2, 64000, generator=torch.Generator().manual_seed(2))
    spec = log_mel(w)
    assert spec.shape == (2, 448, 80)
    # by hand: centred reflect-padded Hann STFT, power, Slaney mel, log(x + eps), fixed mean/std
    stft = torch.stft(w, 1024, 143, window=torch.hann_window(1024), center=True, pad_mode="reflect",
                      return_complex=True).abs() ** 2
    banks = torchaudio.functional.melscale_fbanks(513, 0.0, 8000.0, 80, 16000, norm="slaney", mel_scale="slaney")
    by_hand = ((stft.transpose(1, 2) @ banks) + torch.finfo(torch.float32).eps).log()
    by_hand = (by_hand - (-5.3688107)) / 4.410007
    assert torch.allclose(spec, by_hand, atol=1e-3)
    assert torch.allclose(log_mel(w, normalize=False), spec * 4.410007 - 5.3688107, atol=1e-4)
    assert log_mel(w[0], target_length=500).shape == (500, 80)
