"""Neural-network building blocks: patch embeddings, the ViT encoder, the MAE decoder, heads, fusion.

Built on timm's ``Block`` / ``Mlp`` / ``PatchEmbed`` / ``trunc_normal_``; methods in
:mod:`maskedav.methods` compose them.
"""
from maskedav.nn.decoder import MAEDecoder
from maskedav.nn.fusion import CrossAttention, CrossAttentionBlock
from maskedav.nn.heads import ClassifierHead, LinearHead, ProjectorMLP, pool_tokens
from maskedav.nn.patch_embed import ImagePatchEmbed, SpectrogramPatchEmbed, TubeletEmbed
from maskedav.nn.vit import ViTEncoder, build_blocks, init_mae_weights

__all__ = [
    "ViTEncoder", "MAEDecoder", "ClassifierHead", "ProjectorMLP", "LinearHead", "pool_tokens",
    "CrossAttention", "CrossAttentionBlock", "ImagePatchEmbed", "TubeletEmbed", "SpectrogramPatchEmbed",
    "build_blocks", "init_mae_weights",
]
