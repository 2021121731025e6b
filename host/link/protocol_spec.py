"""The link protocol's message layouts: the one source of truth.

Python packs and parses with these definitions directly (host/link/protocol.py); the firmware's
header firmware/core/protocol_defs.h is generated from them by `codegen.emit.protocol` and a test
checks that the committed header is what this spec generates and that every C struct has the size
Python computes.

A frame body (see framing.py) is a 4-byte header followed by the message:
    version u8 | type u8 | seq u16 LE | message fields (little-endian, packed) [| variable array]
`seq` counts the sender's frames (wrapping), so a receiver can tell lost and repeated frames.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL_VERSION = 1

# C type -> struct format character (all little-endian, packed)
CTYPES = {"uint8_t": "B", "int8_t": "b", "uint16_t": "H", "int16_t": "h", "uint32_t": "I", "int32_t": "i"}

HEADER_FIELDS = (("version", "uint8_t"), ("type", "uint8_t"), ("seq", "uint16_t"))


@dataclass(frozen=True)
class Message:
    name: str
    type_id: int
    direction: str                               # "sensor->host", "host->sensor", "both"
    fields: tuple[tuple[str, str], ...]          # fixed part: (name, C type) or (name, "char[N]") / "uint8_t[N]"
    array: tuple[str, str] | None = None         # variable tail: (name, C element type), length = rest
    doc: str = ""


MESSAGES = (
    Message("HELLO", 0x01, "sensor->host", (
        ("protocol_version", "uint8_t"), ("fw_major", "uint8_t"), ("fw_minor", "uint8_t"), ("fw_patch", "uint8_t"),
        ("board", "char[16]"), ("build_id", "char[16]"), ("model_hash", "uint8_t[8]"),
        ("hidden", "uint16_t"), ("inputs", "uint16_t"), ("classes", "uint8_t"), ("substeps", "uint8_t"),
        ("h_frac_bits", "uint8_t"), ("flags", "uint8_t"),
    ), doc="sent at boot and on request: who the sensor is and which model it runs"),
    Message("SAMPLE", 0x02, "host->sensor", (
        ("t_us", "uint32_t"), ("flags", "uint8_t"),
    ), array=("values", "int16_t"), doc="one sample to encode: timestamp and int16 channel counts"),
    Message("LATENT", 0x03, "sensor->host", (
        ("t_us", "uint32_t"), ("sample_seq", "uint16_t"), ("flags", "uint8_t"), ("cost", "uint32_t"),
    ), array=("h", "int16_t"), doc="the encoder state after a sample (Q15), and the step's cost when countable"),
    Message("HEARTBEAT", 0x04, "both", (
        ("uptime_ms", "uint32_t"),
    ), doc="liveness, both ways; a sensor that stops hearing the gateway switches to its fallback expert"),
    Message("STATS", 0x05, "sensor->host", (
        ("uptime_ms", "uint32_t"), ("frames_ok", "uint32_t"), ("frames_bad", "uint32_t"),
        ("rx_overflows", "uint32_t"), ("samples", "uint32_t"), ("latents", "uint32_t"),
        ("local_predictions", "uint32_t"), ("heartbeats", "uint32_t"), ("suspended_ms", "uint32_t"),
        ("sleep_ms", "uint32_t"), ("state", "uint8_t"), ("source", "uint8_t"), ("decimation", "uint8_t"),
    ), doc="counters since boot (heartbeats: received from the gateway; sleep_ms: time in WFI), "
           "state flags and the settings in effect"),
    Message("LOCAL_PREDICTION", 0x06, "sensor->host", (
        ("t_us", "uint32_t"), ("sample_seq", "uint16_t"), ("class_index", "uint8_t"),
    ), array=("scores", "int8_t"), doc="the fallback expert's int8 class scores while the gateway is silent"),
    Message("NACK", 0x07, "sensor->host", (
        ("ref_seq", "uint16_t"), ("ref_type", "uint8_t"), ("reason", "uint8_t"),
    ), doc="a frame was rejected, and why (NACK_REASONS)"),
    Message("REQUEST", 0x08, "host->sensor", (
        ("what", "uint8_t"),
    ), doc="ask for a HELLO or STATS (the message type id in `what`)"),
    Message("CONFIG", 0x09, "host->sensor", (
        ("source", "uint8_t"), ("decimation", "uint8_t"), ("generator_period_us", "uint32_t"),
        ("generator_seed", "uint32_t"),
    ), doc="choose the sample source and the latent decimation; answered with STATS"),
    Message("ECHO", 0x0A, "both", (
        ("reply_bytes", "uint16_t"),
    ), array=("payload", "uint8_t"), doc="link test: the sensor answers at once with an ECHO of reply_bytes zero "
                                        "payload bytes, whatever the request's payload: the link's own round trip "
                                        "for frames of chosen sizes (the benchmark's echo floor)"),
)

HELLO_FLAG_CYCLE_COUNTER = 0x01     # LATENT.cost counts CPU cycles (0 on boards without a counter)
HELLO_FLAG_WATCHDOG_RESET = 0x02    # this boot follows a watchdog reset
SAMPLE_FLAG_RESET = 0x01            # start of a new sequence: state back to zero before this sample
LATENT_FLAG_RESUMED = 0x01          # first latent after the encoder was suspended
LATENT_FLAG_GENERATED = 0x02        # the sample came from the on-board generator
STATE_SUSPENDED = 0x01              # STATS.state bits; 0 = running, latents flowing
STATE_FALLBACK = 0x02
SOURCE_UART, SOURCE_GENERATOR = 0, 1

# Timing of the link, in milliseconds (generated into the firmware, used by the gateway).
GATEWAY_HEARTBEAT_PERIOD_MS = 250   # the gateway sends HEARTBEAT this often
FALLBACK_AFTER_MS = 1000            # no gateway HEARTBEAT this long (after one was heard): fallback mode
SUSPEND_AFTER_MS = 200              # no sample this long: the encoder is suspended
SENSOR_HEARTBEAT_PERIOD_MS = 1000   # the sensor sends HEARTBEAT when it has sent nothing this long
GENERATOR_MIN_PERIOD_US = 1000      # fastest on-board generator rate (1 kHz)

NACK_REASONS = {
    "BAD_CRC": 1, "BAD_COBS": 2, "TOO_SHORT": 3, "TOO_LONG": 4, "BAD_VERSION": 5,
    "UNKNOWN_TYPE": 6, "BAD_LENGTH": 7, "WRONG_INPUTS": 8, "BAD_CONFIG": 9, "SOURCE_BUSY": 10,
}


def field_format(ctype: str) -> str:
    """struct format of one field: scalars from CTYPES, arrays as `char[N]` / `uint8_t[N]` bytes."""
    if ctype in CTYPES:
        return CTYPES[ctype]
    base, n = ctype.rstrip("]").split("[")
    if base not in ("char", "uint8_t"):
        raise ValueError(f"unsupported array type {ctype}")
    return f"{int(n)}s"


def header_format() -> str:
    return "<" + "".join(field_format(t) for _, t in HEADER_FIELDS)


def message_format(msg: Message) -> str:
    return "<" + "".join(field_format(t) for _, t in msg.fields)


def by_name(name: str) -> Message:
    return next(m for m in MESSAGES if m.name == name)


def by_type(type_id: int) -> Message | None:
    return next((m for m in MESSAGES if m.type_id == type_id), None)
