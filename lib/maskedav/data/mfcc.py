"""MFCCs as TalkNet computes them (python_speech_features), batched in torch: AV-MaskEnhancer's audio
front-end ``Cep(I_a)`` (paper Eq. 5; spec ``av-maskenhancer.md`` §2.2, §5.3).

Time-first layout as the rest of :mod:`maskedav.data`: ``(B, T_frames, n_mfcc)``.
"""
from __future__ import annotations

import math

import torch

__all__ = ["MFCC"]


class MFCC(torch.nn.Module):
    """Waveform ``(B, S)`` -> MFCC ``(B, T_frames, n_mfcc)`` (time first), always computed in float32.

    TalkNet's front-end (``python_speech_features.mfcc(numcep=13, winlen=0.025, winstep=0.01)``,
    AV-MaskEnhancer spec §5.3): pre-emphasis 0.97, 25 ms frames every 10 ms, 512-point power spectrum
    ``|FFT|²/n_fft``, 26 HTK-mel triangles from 0 Hz to Nyquist
    (``torchaudio.functional.melscale_fbanks``), log, orthonormal DCT-II
    (``torchaudio.functional.create_dct``), cepstral lifter 22. ``T_frames = 1 + (S - win) // hop``.
    Differences from python_speech_features (documented, not bit-identical): a Hann window instead of
    the rectangular one, continuous instead of FFT-bin-rounded triangles, and c0 is kept rather than
    replaced by the log-energy.
    """

    def __init__(self, sample_rate: int = 16000, n_mfcc: int = 13, n_mels: int = 26, win_ms: float = 25.0,
                 hop_ms: float = 10.0, n_fft: int = 512, preemphasis: float = 0.97, lifter: int = 22):
        import torchaudio.functional as AF

        super().__init__()
        self.win = int(round(sample_rate * win_ms / 1000))
        self.hop = int(round(sample_rate * hop_ms / 1000))
        self.n_fft, self.preemphasis, self.n_mfcc = max(n_fft, self.win), preemphasis, n_mfcc
        self.register_buffer("window", torch.hann_window(self.win, periodic=False), persistent=False)
        fb = AF.melscale_fbanks(self.n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate, norm=None,
                                mel_scale="htk")
        self.register_buffer("fbank", fb, persistent=False)                       # (n_freqs, n_mels)
        self.register_buffer("dct", AF.create_dct(n_mfcc, n_mels, norm="ortho"), persistent=False)
        k = torch.arange(n_mfcc, dtype=torch.float32)
        lift = 1 + (lifter / 2) * torch.sin(math.pi * k / lifter) if lifter else torch.ones(n_mfcc)
        self.register_buffer("lift", lift, persistent=False)

    def num_frames(self, num_samples: int) -> int:
        return 1 + (num_samples - self.win) // self.hop

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=wave.device.type, enabled=False):
            x = wave.float()
            if self.preemphasis:
                x = torch.cat([x[:, :1], x[:, 1:] - self.preemphasis * x[:, :-1]], dim=1)
            frames = x.unfold(1, self.win, self.hop) * self.window          # (B, T, win)
            power = torch.fft.rfft(frames, n=self.n_fft).abs().pow(2) / self.n_fft
            logmel = torch.log(power @ self.fbank + 1e-10)
            return (logmel @ self.dct) * self.lift
