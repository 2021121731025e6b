"""The synthetic multi-modal streaming benchmark.

Three sensors of one device, each at its own jittered rate, merged into one irregularly sampled
stream with per-sample timestamps:

- audio: a 16 kHz microphone signal (a pulsing machine: a 0.7-1.3 kHz tone plus broadband noise,
  both amplitude-modulated at a class-dependent rate, plus self-noise) cut into 20 ms frames; each
  frame gives 4 log band energies (50 frames/s);
- IMU: 3-axis linear acceleration (gravity removed, as an IMU's fusion output gives it) and 3-axis
  gyroscope at 200 Hz: a periodic motion at a class-dependent frequency, mostly vertical (the
  device's tilt up to ~30 degrees per recording), noise and a slowly drifting bias;
- video: 2 features per 30 fps frame: motion energy (periodic at a class-dependent rate) and
  brightness (a random walk).

Every merged sample carries all 12 channels: the arriving sensor's fresh values, the others held
from their last frame (what a sensor node's sample-and-hold buffer sees).

Why the temporal dynamics matter: every class uses the same amplitude ranges, so one sample says
little; classes differ in *rates* (motion frequency, audio modulation rate, video motion rate).
Each recording also runs its sensors at its own rate (a power mode factor of 0.7x to 1.3x the
nominal rates, shared by the three sensors of the device), so counting samples does not measure
time: only the timestamps do. Jitter (±20 % of each period) and dropouts (gaps of 50-300 ms in one
sensor) make the sampling irregular.

Deterministic: window i of seed s is the same whatever the data set size (one child seed each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUDIO_RATE_HZ = 16_000
AUDIO_FRAME_S = 0.020
IMU_RATE_HZ = 200.0
VIDEO_RATE_HZ = 30.0
AUDIO_BANDS_HZ = ((50, 500), (500, 1500), (1500, 3500), (3500, 8000))

CHANNELS = (
    "audio_band0", "audio_band1", "audio_band2", "audio_band3",
    "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z",
    "video_motion", "video_brightness",
)
AUDIO, IMU, VIDEO = slice(0, 4), slice(4, 10), slice(10, 12)

# class: (IMU motion Hz, audio modulation Hz, video motion Hz). Classes with the same motion
# frequency differ in both the audio and the video rate.
CLASSES = {
    "sway":      (1.0, 2.0, 0.7),
    "sway_hum":  (1.0, 6.0, 2.0),
    "walk":      (2.0, 2.0, 2.0),
    "walk_hum":  (2.0, 6.0, 0.7),
    "run":       (3.2, 2.0, 0.7),
    "run_hum":   (3.2, 6.0, 2.0),
}
CLASS_NAMES = tuple(CLASSES)

RATE_FACTOR_RANGE = (0.7, 1.3)   # per recording: the device's sampling power mode
FREQ_SPREAD = 0.08               # per recording: ±8 % around each class rate
JITTER = 0.2                     # per sample: ±20 % of the nominal period
DROPOUT_PER_S = 0.6              # gaps per sensor and second
DROPOUT_S = (0.05, 0.3)


@dataclass(frozen=True)
class SyntheticSpec:
    windows: int = 4500
    window_samples: int = 384
    seed: int = 0

    def describe(self) -> dict:
        return {"kind": "synthetic", "windows": self.windows, "window_samples": self.window_samples,
                "seed": self.seed}


def _event_times(rng, rate_hz: float, duration_s: float) -> np.ndarray:
    """Jittered sampling instants of one sensor over [0, duration), with dropout gaps removed."""
    period = 1.0 / rate_hz
    n = int(duration_s * rate_hz) + 2
    steps = period * (1.0 + rng.uniform(-JITTER, JITTER, n))
    t = rng.uniform(0, period) + np.concatenate([[0.0], np.cumsum(steps[:-1])])
    t = t[t < duration_s]
    keep = np.ones(t.size, dtype=bool)
    for _ in range(rng.poisson(DROPOUT_PER_S * duration_s)):
        start = rng.uniform(0, duration_s)
        keep &= ~((t >= start) & (t < start + rng.uniform(*DROPOUT_S)))
    return t[keep]


def _audio_features(rng, times: np.ndarray, am_hz: float) -> np.ndarray:
    """4 log band energies of 20 ms, 16 kHz frames ending at `times`."""
    n = int(AUDIO_FRAME_S * AUDIO_RATE_HZ)
    tt = times[:, None] - AUDIO_FRAME_S + np.arange(n)[None, :] / AUDIO_RATE_HZ
    carrier_hz = rng.uniform(700, 1300)   # a machine hum in band 1
    depth = rng.uniform(0.6, 0.95)
    gain = np.exp(rng.uniform(-0.5, 0.5))
    envelope = 1.0 + depth * np.sin(2 * np.pi * am_hz * tt + rng.uniform(0, 2 * np.pi))
    # A pulsing machine: the modulation acts on its tone and on its broadband noise alike.
    signal = gain * envelope * (np.sin(2 * np.pi * carrier_hz * tt) + 0.3 * rng.standard_normal(tt.shape))
    signal += 0.02 * rng.standard_normal(tt.shape)                      # microphone self-noise
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(n), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / AUDIO_RATE_HZ)
    bands = [spectrum[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in AUDIO_BANDS_HZ]
    return np.log10(np.stack(bands, axis=1) + 1e-3)


def _tilted_axis(rng, nominal, max_tilt_rad=0.5):
    """A unit vector within max_tilt of the nominal axis (how the device happens to sit)."""
    v = np.asarray(nominal) + np.tan(rng.uniform(0, max_tilt_rad)) * _unit(rng.standard_normal(3))
    return _unit(v)


def _unit(v):
    return v / np.linalg.norm(v)


def _imu(rng, times: np.ndarray, motion_hz: float) -> np.ndarray:
    axis = _tilted_axis(rng, (0.0, 0.0, 1.0))      # a worn device: motion mostly vertical
    amp = rng.uniform(0.8, 1.25)
    phase = rng.uniform(0, 2 * np.pi)
    wave = np.sin(2 * np.pi * motion_hz * times + phase)
    harmonic = 0.3 * np.sin(4 * np.pi * motion_hz * times + 2 * phase)
    acc = amp * (wave + harmonic)[:, None] * axis[None, :]
    # gyro: rotation rate of the same motion, a quarter period ahead, on another axis
    gyro_axis = _tilted_axis(rng, (1.0, 0.0, 0.0))
    gyro = amp * 0.8 * np.cos(2 * np.pi * motion_hz * times + phase)[:, None] * gyro_axis[None, :]
    drift = np.cumsum(rng.standard_normal((times.size, 6)) * 0.01, axis=0)   # bias random walk
    noise = rng.standard_normal((times.size, 6)) * 0.15
    return np.concatenate([acc, gyro], axis=1) + drift + noise


def _video(rng, times: np.ndarray, motion_hz: float) -> np.ndarray:
    motion = np.abs(np.sin(np.pi * motion_hz * times + rng.uniform(0, np.pi)))
    motion = rng.uniform(0.8, 1.25) * motion + 0.15 * rng.standard_normal(times.size)
    brightness = rng.uniform(-1, 1) + np.cumsum(rng.standard_normal(times.size) * 0.03)
    return np.stack([motion, brightness], axis=1)


def generate_window(seed_seq: np.random.SeedSequence, label: int, samples: int):
    """One recording window of exactly `samples` merged samples: (timestamps [s], values, label)."""
    rng = np.random.default_rng(seed_seq)
    imu_hz, am_hz, video_hz = (f * (1 + rng.uniform(-FREQ_SPREAD, FREQ_SPREAD))
                               for f in CLASSES[CLASS_NAMES[label]])
    rate = rng.uniform(*RATE_FACTOR_RANGE)
    total_rate = rate * (IMU_RATE_HZ + 1 / AUDIO_FRAME_S + VIDEO_RATE_HZ)
    duration = 1.5 * samples / total_rate + 0.5      # enough for `samples` events despite dropouts
    while True:
        streams = [
            (_event_times(rng, rate / AUDIO_FRAME_S, duration), AUDIO),
            (_event_times(rng, rate * IMU_RATE_HZ, duration), IMU),
            (_event_times(rng, rate * VIDEO_RATE_HZ, duration), VIDEO),
        ]
        if sum(t.size for t, _ in streams) >= samples + 1:
            break
        duration *= 1.5
    feats = [_audio_features(rng, streams[0][0], am_hz), _imu(rng, streams[1][0], imu_hz),
             _video(rng, streams[2][0], video_hz)]

    times = np.concatenate([t for t, _ in streams])
    source = np.concatenate([np.full(t.size, i) for i, (t, _) in enumerate(streams)])
    row = np.concatenate([np.arange(t.size) for t, _ in streams])
    order = np.argsort(times, kind="stable")
    values = np.zeros((order.size, len(CHANNELS)), dtype=np.float64)
    held = np.zeros(len(CHANNELS))
    for i, k in enumerate(order):   # sample-and-hold merge
        held[streams[source[k]][1]] = feats[source[k]][row[k]]
        values[i] = held
    # Start once every sensor has reported (no all-zero held channels), keep `samples` of them.
    first_full = max(int(np.argmax(source[order] == s)) for s in range(3))
    start = min(first_full, order.size - samples)
    ts = times[order][start:start + samples]
    return ts - ts[0], values[start:start + samples].astype(np.float32), label


def generate(spec: SyntheticSpec, progress=None):
    """All windows of the spec: timestamps (N, L) float64 s, values (N, L, 12) float32, labels (N,)."""
    children = np.random.SeedSequence(spec.seed).spawn(spec.windows)
    labels = np.arange(spec.windows) % len(CLASS_NAMES)
    t = np.zeros((spec.windows, spec.window_samples))
    x = np.zeros((spec.windows, spec.window_samples, len(CHANNELS)), dtype=np.float32)
    for i in range(spec.windows):
        t[i], x[i], _ = generate_window(children[i], int(labels[i]), spec.window_samples)
        if progress:
            progress(i + 1, spec.windows)
    return t, x, labels
