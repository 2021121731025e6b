"""SCons build script of the project-local `rtlnf` platform.

Builds `firmware/` (the portable core, PlatformIO's src_dir) together with the board folder
`boards/<board>/` (startup, clocks, UART, linker script) using the arm-none-eabi tools on PATH.
Defines `upload` for openocd (default) and pyocd, with a hard time limit and a clear message
when no probe is attached.
"""

import json
import os
import re
import subprocess
import sys
import tomllib

from SCons.Script import AlwaysBuild, Builder, Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
board_id = env.subst("$BOARD")
project_dir = env.subst("$PROJECT_DIR")
board_dir = os.path.join(env.subst("$PROJECT_DIR"), "boards", board_id)

# Seconds an upload may take before it is called hung (a flash of this firmware takes ~3 s).
UPLOAD_TIMEOUT_S = 60

env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-as",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    GDB="arm-none-eabi-gdb",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    PROGSUFFIX=".elf",
    PROGNAME="firmware",
)


def _missing_toolchain():
    from shutil import which

    return which("arm-none-eabi-gcc") is None


if _missing_toolchain():
    sys.stderr.write(
        "Error: arm-none-eabi-gcc is not on PATH. Install Debian's toolchain with `make setup`\n"
        "(apt: gcc-arm-none-eabi libnewlib-arm-none-eabi).\n"
    )
    env.Exit(1)


def _project_version():
    with open(os.path.join(project_dir, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["version"]


def _build_id():
    """Git commit of the tree being built, `-dirty` when it has uncommitted changes."""
    try:
        out = subprocess.run(
            ["git", "-C", project_dir, "describe", "--always", "--dirty", "--abbrev=10"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


cpu_flags = [
    "-mcpu=%s" % board.get("build.cpu"),
    "-mthumb",
    "-mfpu=%s" % board.get("build.fpu"),
    "-mfloat-abi=%s" % board.get("build.float_abi"),
]

env.Append(
    # Assembly (the optimised kernels) goes through the C preprocessor; assembler warnings are errors
    # as compiler warnings are (build_flags' -Werror reaches C only).
    ASFLAGS=cpu_flags + ["-x", "assembler-with-cpp", "-Wa,--fatal-warnings"],
    CCFLAGS=cpu_flags + [
        "-O2",
        "-g",
        "-ffunction-sections",
        "-fdata-sections",
        "-fno-common",
        "-fstack-usage",
        "-fcallgraph-info=su",     # with .su: the worst-case stack (host/hil/stack_bound.py)
    ],
    CFLAGS=["-std=c11"],
    CPPDEFINES=[
        ("F_CPU", "$BOARD_F_CPU"),
        ("RTLNF_BOARD_NAME", '\\"%s\\"' % board_id),
        ("RTLNF_FW_VERSION", '\\"%s\\"' % _project_version()),
        *[("RTLNF_FW_VERSION_%s" % part, int(v)) for part, v in
          zip(("MAJOR", "MINOR", "PATCH"), _project_version().split(".")[:3])],
        ("RTLNF_BUILD_ID", '\\"%s\\"' % _build_id()),
    ],
    CPPPATH=["$PROJECT_SRC_DIR", board_dir],
    LIBPATH=[os.path.join("$PROJECT_SRC_DIR", "arch", "cortex_m7")],  # shared linker sections
    LINKFLAGS=cpu_flags + [
        "-nostartfiles",
        "--specs=nano.specs",
        "-Wl,--gc-sections",
        "-Wl,--print-memory-usage",
        "-Wl,-Map,${BUILD_DIR}/${PROGNAME}.map",
    ],
    LIBS=["c_nano", "gcc"],
    BUILDERS=dict(
        ElfToBin=Builder(
            action=env.VerboseAction("$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"),
            suffix=".bin",
        ),
        ElfToHex=Builder(
            action=env.VerboseAction("$OBJCOPY -O ihex $SOURCES $TARGET", "Building $TARGET"),
            suffix=".hex",
        ),
    ),
)
env.Replace(LDSCRIPT_PATH=os.path.join(board_dir, "linker.ld"))

# The board layer: everything in boards/<board>/ that compiles.
env.BuildSources(os.path.join("$BUILD_DIR", "board"), board_dir, "+<*.c> +<*.S>")


# --- the generated model ------------------------------------------------------------------------
# Firmware that runs the model (`custom_model = required` in its env) is built with the sources
# `python -m codegen export` wrote (firmware/generated/, or $RTLNF_MODEL_DIR). Never a default
# model: missing sources fail the build, and so do sources exported from another model than the
# artifact the env names (`custom_artifact`, or $RTLNF_ARTIFACT).
MODEL_HASH_RE = re.compile(r'#define RTLNF_MODEL_HASH "([0-9a-f]+)"')


def _model_error(msg):
    sys.stderr.write("Error: %s\n" % msg)
    env.Exit(1)


if env.GetProjectOption("custom_model", "none") == "required":
    model_dir = os.environ.get("RTLNF_MODEL_DIR") or os.path.join(project_dir, "firmware", "generated")
    header = os.path.join(model_dir, "rtlnf_model.h")
    if not os.path.isfile(header):
        _model_error("no generated model in %s. Train and export one first:\n"
                     "  python -m codegen train --out artifacts/default\n"
                     "  python -m codegen export artifacts/default" % model_dir)
    with open(header) as f:
        found = MODEL_HASH_RE.search(f.read())
    if not found:
        _model_error("%s carries no RTLNF_MODEL_HASH: regenerate it with `python -m codegen export`" % header)
    artifact = os.environ.get("RTLNF_ARTIFACT") or env.GetProjectOption("custom_artifact", "")
    manifest = os.path.join(project_dir, artifact, "manifest.json") if artifact else ""
    if manifest and os.path.isfile(manifest):
        with open(manifest) as f:
            expected = json.load(f)["model_hash_short"]
        if expected != found.group(1):
            _model_error("the generated model in %s is stale: it is model %s, %s is model %s.\n"
                         "  python -m codegen export %s" % (model_dir, found.group(1), artifact, expected, artifact))
    print("Model: %s (%s)" % (found.group(1), model_dir))
    env.Append(CPPPATH=[model_dir])
    env.BuildSources(os.path.join("$BUILD_DIR", "model"), model_dir, "+<*.c>")
elif env.GetProjectOption("custom_model", "none") == "bench":
    # The benchmark firmware (`python -m bench`): its generated sources in $RTLNF_BENCH_DIR, the
    # variant to build in $RTLNF_BENCH_VARIANT, third-party sources (CMSIS-DSP) in third_party/
    # of that directory, compiled without this project's warning flags.
    bench_dir = os.environ.get("RTLNF_BENCH_DIR", "")
    if not os.path.isfile(os.path.join(bench_dir, "bench_model.h")):
        _model_error("this env is built by `python -m bench` (RTLNF_BENCH_DIR holds no bench_model.h)")
    includes = [p for p in os.environ.get("RTLNF_BENCH_INCLUDES", "").split(os.pathsep) if p]
    env.Append(CPPPATH=[bench_dir] + includes,
               CPPDEFINES=[("BENCH_VARIANT", os.environ.get("RTLNF_BENCH_VARIANT", "0"))])
    env.BuildSources(os.path.join("$BUILD_DIR", "bench"), bench_dir, "+<*.c>")
    third = os.path.join(bench_dir, "third_party")
    if os.path.isdir(third):
        tenv = env.Clone()
        for key in ("CCFLAGS", "CFLAGS"):
            tenv.Replace(**{key: [f for f in tenv.get(key, []) if not str(f).startswith("-W")]})
        for src in sorted(os.listdir(third)):
            if src.endswith(".c"):
                obj = tenv.Object(os.path.join("$BUILD_DIR", "third_party", src[:-2] + ".o"), os.path.join(third, src))
                env.Append(PIOBUILDFILES=obj)

target_elf = env.BuildProgram()
target_bin = env.ElfToBin(os.path.join("$BUILD_DIR", "${PROGNAME}"), target_elf)
target_hex = env.ElfToHex(os.path.join("$BUILD_DIR", "${PROGNAME}"), target_elf)

# The worst-case stack from the compiler's .su/.ci files; the build fails when it exceeds the reserve.
env.PrependENVPath("PYTHONPATH", "$PROJECT_DIR")
env.AddPostAction(target_elf, env.VerboseAction('"$PYTHONEXE" -m host.hil.stack_bound "$BUILD_DIR"',
                                                "Checking the stack bound"))

AlwaysBuild(env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))


# --- upload ------------------------------------------------------------------------------------

NO_PROBE_PATTERNS = (
    "open failed",                       # openocd, stlink driver
    "unable to open",                    # openocd, other adapters
    "no device found",
    "no connected debug probes",         # pyocd
    "no available debug probes",
)


def _upload_command(protocol, elf):
    if protocol == "openocd":
        return [
            "openocd",
            "-f", board.get("upload.openocd_interface", "interface/stlink.cfg"),
            "-f", board.get("upload.openocd_target"),
            "-c", "program {%s} verify reset exit" % elf,
        ]
    if protocol == "pyocd":
        # -W: fail at once when no probe is connected instead of waiting for one.
        return [sys.executable, "-m", "pyocd", "flash", "-W",
                "-t", board.get("upload.pyocd_target"), "--format", "elf", elf]
    return None


def upload_firmware(target, source, env):  # pylint: disable=unused-argument
    elf = str(source[0])
    protocols = board.get("upload.protocols", [])
    protocol = env.subst("$UPLOAD_PROTOCOL") or board.get("upload.protocol", "")
    if not protocols:
        sys.stderr.write(
            "Error: board '%s' is an emulator target and cannot be flashed; "
            "run it with `make demo` (QEMU) instead.\n" % board_id)
        return 1
    cmd = _upload_command(protocol, elf)
    if cmd is None or protocol not in protocols:
        sys.stderr.write("Error: upload_protocol '%s' is not supported for %s (choose one of: %s).\n"
                         % (protocol, board_id, ", ".join(protocols)))
        return 1
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=UPLOAD_TIMEOUT_S)
    except FileNotFoundError:
        sys.stderr.write("Error: %s is not installed (run `make setup`).\n" % cmd[0])
        return 1
    except subprocess.TimeoutExpired:
        sys.stderr.write("Error: %s did not finish within %d s; is the probe or target stuck?\n"
                         % (protocol, UPLOAD_TIMEOUT_S))
        return 1
    output = proc.stdout + proc.stderr
    if proc.returncode == 0:
        sys.stdout.write(output)
        return 0
    if any(p in output.lower() for p in NO_PROBE_PATTERNS):
        sys.stderr.write(
            "Error: no debug probe found (%s). Connect the board's ST-LINK USB port "
            "(CN1 on the NUCLEO-H743ZI) and check its permissions (udev rules); the other uploader is "
            "selected by env, e.g. `pio run -e nucleo_h743zi_pyocd -t upload`.\n" % protocol)
    else:
        sys.stderr.write(output)
        sys.stderr.write("Error: %s failed with exit code %d.\n" % (protocol, proc.returncode))
    return 1


env.AddPlatformTarget("upload", target_elf, env.VerboseAction(upload_firmware, "Uploading $SOURCE with $UPLOAD_PROTOCOL"),
                      "Upload")

Default([target_elf, target_bin, target_hex])
