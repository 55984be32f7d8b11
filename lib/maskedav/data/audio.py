"""Audio features: Kaldi fbank as CAV-MAE / AudioMAE compute it, and XKD's log-mel spectrogram.

Layout follows the book's conventions: features are time-first, ``(T_frames, n_mels)`` for one clip
and ``(B, T_frames, n_mels)`` for a batch.

* :func:`fbank` = ``torchaudio.compliance.kaldi.fbank(htk_compat=True, use_energy=False,
  window_type='hanning', dither=0.0, frame_shift=10)`` on the de-meaned waveform
  (CAV-MAE ``src/dataloader.py::_wav2fbank``, AudioMAE ``dataset.py::_wav2fbank``; reference notes
  §1.5-1.6). A batch is computed in one vectorised pass that reproduces Kaldi's steps
  (framing, DC removal, pre-emphasis 0.97, Hanning window, 512-point power spectrum, Kaldi mel
  banks, log); ``tests/test_audio_features.py`` checks it against torchaudio's per-clip function.
* :func:`normalize_fbank`: CAV-MAE ``(x + 5.081) / 4.4849``; AudioMAE ``(x - mean) / (2 std)``
  with AudioSet ``(-4.2677393, 4.5689974)`` or ESC-50 ``(-6.6268077, 5.358466)`` statistics.
* :func:`log_mel`: XKD's spectrogram (``n_fft 1024, hop 143, 80 mel``, librosa-style Slaney mel,
  power 2, ``log(x + eps)``, normalised with mean -5.3688107, std 4.410007; reference notes §1.7),
  computed with torchaudio instead of librosa.
* :func:`pad_or_crop`: zero-pad at the end or keep the first ``target_length`` frames (CAV-MAE).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class FbankStats:
    """``normalised = (fbank - mean) / (std * std_multiplier)``."""

    mean: float
    std: float
    std_multiplier: float = 1.0
    source: str = ""


FBANK_STATS = {
    "cav-mae": FbankStats(-5.081, 4.4849, 1.0, "CAV-MAE egs/*: dataset_mean=-5.081, dataset_std=4.4849; (x-mean)/std"),
    "audiomae": FbankStats(-4.2677393, 4.5689974, 2.0, "AudioMAE main_pretrain.py norm_stats['audioset']; (x-mean)/(std*2)"),
    "audiomae-esc50": FbankStats(-6.6268077, 5.358466, 2.0, "AudioMAE norm_stats['esc50']; (x-mean)/(std*2)"),
}

# XKD codes/train/datasets/augmentations/audio_augmentations.py::SpecAug (+ xkd.yaml: n_fft 1024, hop 143, 80 mel)
XKD_MEL = dict(n_fft=1024, hop_length=143, n_mels=80, mean=-5.3688107, std=4.410007)

# Target lengths (fbank frames) used by the papers' loaders (AudioMAE §1.5, CAV-MAE §1.6).
TARGET_LENGTH = {"audioset": 1024, "esc50": 512, "speechcommands": 128}


def num_fbank_frames(num_samples: int, sample_rate: int = 16000, frame_shift_ms: float = 10.0,
                     frame_length_ms: float = 25.0) -> int:
    """Frames Kaldi produces (``snip_edges=True``): ``1 + (S - window) // shift``."""
    window = int(sample_rate * frame_length_ms / 1000)
    shift = int(sample_rate * frame_shift_ms / 1000)
    return 0 if num_samples < window else 1 + (num_samples - window) // shift


@lru_cache(maxsize=16)
def _kaldi_mel_banks(num_mel_bins: int, padded_window: int, sample_rate: float) -> torch.Tensor:
    """Kaldi's triangular mel banks ``(n_mels, padded_window // 2 + 1)`` (torchaudio's, padded like fbank)."""
    from torchaudio.compliance.kaldi import get_mel_banks

    banks, _ = get_mel_banks(num_mel_bins, padded_window, float(sample_rate), 20.0, 0.0, 100.0, -500.0, 1.0)
    return F.pad(banks, (0, 1))


def fbank(waveform: torch.Tensor, sample_rate: int = 16000, num_mel_bins: int = 128, *,
          frame_shift_ms: float = 10.0, frame_length_ms: float = 25.0, target_length: int | None = None,
          demean: bool = True) -> torch.Tensor:
    """Kaldi log-mel filterbank of ``(S,)`` or ``(B, S)`` waveforms -> ``(T, M)`` or ``(B, T, M)``.

    Equal (to float rounding) to ``kaldi.fbank(w - w.mean(), htk_compat=True, use_energy=False,
    window_type='hanning', dither=0.0, ...)``, row by row. ``target_length`` pads with zeros / crops.
    """
    single = waveform.dim() == 1
    wav = waveform.unsqueeze(0) if single else waveform
    if wav.dim() != 2:
        raise ValueError(f"waveform must be (S,) or (B, S), got {tuple(waveform.shape)}")
    wav = wav.float()
    if demean:
        wav = wav - wav.mean(dim=1, keepdim=True)
    window = int(sample_rate * frame_length_ms / 1000)
    shift = int(sample_rate * frame_shift_ms / 1000)
    if wav.shape[1] < window:
        raise ValueError(f"waveform of {wav.shape[1]} samples is shorter than one {window}-sample frame")
    padded = 1 << (window - 1).bit_length()
    frames = wav.unfold(1, window, shift)                                   # (B, T, window)
    frames = frames - frames.mean(dim=2, keepdim=True)                      # remove DC offset
    previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=2)
    frames = frames - 0.97 * previous                                       # pre-emphasis
    frames = frames * torch.hann_window(window, periodic=False, device=wav.device, dtype=wav.dtype)
    power = torch.fft.rfft(F.pad(frames, (0, padded - window))).abs().pow(2.0)
    banks = _kaldi_mel_banks(num_mel_bins, padded, sample_rate).to(wav.device, wav.dtype)
    mel = torch.matmul(power, banks.T)
    out = torch.clamp_min(mel, torch.finfo(wav.dtype).eps).log()
    if target_length is not None:
        out = pad_or_crop(out, target_length)
    return out[0] if single else out


def fbank_reference(waveform: torch.Tensor, sample_rate: int = 16000, num_mel_bins: int = 128,
                    frame_shift_ms: float = 10.0) -> torch.Tensor:
    """The papers' exact call (one clip at a time): ``torchaudio.compliance.kaldi.fbank`` on ``w - mean``."""
    import torchaudio

    w = waveform.reshape(1, -1).float()
    return torchaudio.compliance.kaldi.fbank(
        w - w.mean(), htk_compat=True, sample_frequency=sample_rate, use_energy=False,
        window_type="hanning", num_mel_bins=num_mel_bins, dither=0.0, frame_shift=frame_shift_ms)


def _stats(stats) -> FbankStats:
    if isinstance(stats, FbankStats):
        return stats
    if isinstance(stats, str):
        try:
            return FBANK_STATS[stats]
        except KeyError:
            raise ValueError(f"unknown fbank stats {stats!r}; choose one of {list(FBANK_STATS)}") from None
    mean, std, *mult = stats
    return FbankStats(float(mean), float(std), float(mult[0]) if mult else 1.0)


def normalize_fbank(x: torch.Tensor, stats="cav-mae") -> torch.Tensor:
    """``(x - mean) / (std * multiplier)``; ``stats`` is a key of :data:`FBANK_STATS` or ``(mean, std[, mult])``."""
    s = _stats(stats)
    return (x - s.mean) / (s.std * s.std_multiplier)


def denormalize_fbank(x: torch.Tensor, stats="cav-mae") -> torch.Tensor:
    s = _stats(stats)
    return x * (s.std * s.std_multiplier) + s.mean


def pad_or_crop(x: torch.Tensor, target_length: int, dim: int = -2, value: float = 0.0) -> torch.Tensor:
    """Zero-pad at the end of ``dim`` or keep its first ``target_length`` entries (CAV-MAE / AudioMAE)."""
    n = x.shape[dim]
    if n >= target_length:
        return x.narrow(dim, 0, target_length)
    dim = dim % x.dim()
    pad = [0, 0] * (x.dim() - dim)
    pad[-1] = target_length - n   # F.pad lists the last dimension first
    return F.pad(x, pad, value=value)


@lru_cache(maxsize=8)
def _mel_transform(sample_rate: int, n_fft: int, hop_length: int, n_mels: int):
    import torchaudio

    # librosa 0.8 defaults as XKD used them: centred frames with reflect padding, Hann window,
    # Slaney mel scale and Slaney area normalisation, power spectrogram, f_min 0, f_max sr/2.
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, f_min=0.0,
        f_max=None, power=2.0, center=True, pad_mode="reflect", norm="slaney", mel_scale="slaney")


def log_mel(waveform: torch.Tensor, sample_rate: int = 16000, *, n_fft: int = XKD_MEL["n_fft"],
            hop_length: int = XKD_MEL["hop_length"], n_mels: int = XKD_MEL["n_mels"], normalize: bool = True,
            target_length: int | None = None) -> torch.Tensor:
    """XKD's log-mel spectrogram of ``(S,)`` / ``(B, S)`` -> ``(T, n_mels)`` / ``(B, T, n_mels)``.

    ``log(mel + float32 eps)``, then ``(x - (-5.3688107)) / 4.410007`` when ``normalize``.
    """
    single = waveform.dim() == 1
    wav = waveform.unsqueeze(0) if single else waveform
    transform = _mel_transform(sample_rate, n_fft, hop_length, n_mels).to(wav.device)
    spec = (transform(wav.float()) + torch.finfo(torch.float32).eps).log().transpose(1, 2)
    if normalize:
        spec = (spec - XKD_MEL["mean"]) / XKD_MEL["std"]
    if target_length is not None:
        spec = pad_or_crop(spec, target_length)
    return spec[0] if single else spec


def num_log_mel_frames(num_samples: int, hop_length: int = XKD_MEL["hop_length"]) -> int:
    """Frames of a centred STFT: ``1 + S // hop`` (4 s at 16 kHz, hop 143 -> 448)."""
    return 1 + num_samples // hop_length

