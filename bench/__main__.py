"""`make bench`: the article's metrics and ablation tables for this system, measured here.

    python -m bench [--artifact artifacts/default] [--windows 40] [--quick]

Writes results/bench.json (every number, with its method), results/bench.md (the tables) and
results/*.png (plots). Needs an exported artifact (python -m codegen export), QEMU and the cross
compiler (make setup); builds QEMU's insn plugin and fetches the CMSIS sources on first use.
Numbers measured on this machine; projections to the NUCLEO-H743ZI say which model they use.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"

CPU_HZ = 480e6
# Cycles: QEMU counts instructions, not cycles; bench/sensor_cost.py turns each variant's executed
# instruction mix into cycles (one per instruction, load/store multiples ceil(words/2), divides 7,
# with its sources) and a dual-issue lower bound. Times and energy use the model's cycles.
BAUD = 921600
BITS_PER_BYTE = 10                              # 8N1
# Energy model: supply and currents of the STM32H743 at 480 MHz (VOS0, caches on, peripherals
# off), run and sleep (WFI) mode. ASSUMED values in the range of ST's datasheet DS12110 tables
# "current consumption in Run mode" / "in Sleep mode"; the datasheet itself is not available on
# this offline machine, so check them against it before quoting the energy figures.
VDD = 3.3
I_RUN_A = 0.235
I_SLEEP_A = 0.100
ARTICLE = {"p95_ms": 9.8, "bytes_per_inference": 1400, "sensor_memory_bytes": 1.7e6, "energy_mj": 0.38,
           "accuracy": 0.943}
TARGETS = {"encoder_instructions_32_12": 2000, "floor_ratio": 2.9, "peer_ratio": 3.5, "bytes": 100,
           "flash": 64 * 1024, "ram": 32 * 1024, "pipeline_p95_above_floor_ms": 1.0, "hardware_p95_ms": 3.0,
           "energy_mj": 0.1, "quantization_drop_points": 0.5}


def step(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def sensor(art, work: Path) -> dict:
    from bench import sensor_cost as sc
    r = sc.measure(sc.artifact_model(art), ["rtlnf", "rtlnf_reference", "cmsis", "float32", "forest_f32", "fallback_s8"],
                   work / "default", cycles=True)
    d = r["dims"]
    floor = sc.mac_floor(d["hidden"], d["inputs"], d["substeps"])
    ins, cyc = r["instructions"], r["cycles"]
    return {"dims": d, "instructions": ins, "loop_overhead": r["loop_overhead"], "floor": floor,
            "cycles": cyc, "cycles_lower_bound": r["cycles_lower_bound"], "mix": r["mix"],
            "ratios": {"ours / floor": ins["rtlnf"] / floor["floor"],
                       "ours / single-pass MAC floor": ins["rtlnf"] / floor["floor_single_pass"],
                       "CMSIS-DSP q15 / ours": ins["cmsis"] / ins["rtlnf"],
                       "float32 C / ours": ins["float32"] / ins["rtlnf"],
                       "reference C / ours": ins["rtlnf_reference"] / ins["rtlnf"],
                       "CMSIS-DSP q15 / ours (cycles)": cyc["cmsis"] / cyc["rtlnf"],
                       "float32 C / ours (cycles)": cyc["float32"] / cyc["rtlnf"]},
            "time_us_at_480MHz": {k: v / CPU_HZ * 1e6 for k, v in cyc.items()},
            "method": "QEMU 7.2 TCG insn plugin (inline), mps2_an500_bench build with the nucleo_h743zi compiler "
                      f"flags; (count({sc.STEPS[1]}) - count({sc.STEPS[0]})) / {sc.STEPS[1] - sc.STEPS[0]} per step, "
                      "input-generation loop subtracted. Cycles: the executed instruction mix (insn plugin match "
                      "log, one step) under the model in bench/sensor_cost.py; time = cycles / 480 MHz"}


def scaling(work: Path) -> dict:
    from bench import sensor_cost as sc
    from codegen.emit import model_c
    hidden = {}
    for H in (8, 16, 32, 64, 128):
        model = sc.random_model(H)
        r = sc.measure(model, ["rtlnf", "cmsis", "float32"], work / f"h{H}")
        sizes = model_c.encoder_memory_bytes(H, 12)
        hidden[H] = {**r["instructions"], "floor": sc.mac_floor(H, 12, model.config["model"]["substeps"])["floor"],
                     "encoder_flash_bytes": sizes["flash_encoder_bytes"], "encoder_ram_bytes": sizes["ram_encoder_bytes"]}
        step(f"  hidden {H}: ours {r['instructions']['rtlnf']:.0f}, CMSIS {r['instructions']['cmsis']:.0f}, "
             f"float32 {r['instructions']['float32']:.0f} instructions/step")
    leaves = {}
    for depth in (2, 3, 4, 5, 6):
        L = 2 ** depth
        r = sc.measure(sc.random_model(32, depth=depth), ["forest_f32"], work / f"d{depth}")
        T, E, C, H = 4, 8, 6, 32
        leaves[L] = {"forest_f32_instructions": r["instructions"]["forest_f32"],
                     "forest_f32_flash_bytes": 4 * (T * (L - 1) * (H + 1) + L * E * (H + 1) + L * C * (E + 1))}
        step(f"  {L} leaves: router + leaves on the M7 {r['instructions']['forest_f32']:.0f} instructions")
    return {"hidden": hidden, "leaves": leaves}


def gateway(art, h: np.ndarray) -> dict:
    """Runtime throughput, and end to end against replayed sensors sending the latents h."""
    from bench import gateway_scaling, gateway_throughput
    step("gateway runtime throughput (one core)")
    runtime = gateway_throughput.measure(art.path, 1.0)
    flat = h.reshape(-1, h.shape[-1])
    by_sensors = {}
    for n in (1, 2, 4, 8, 16, 32):
        by_sensors[n] = gateway_scaling.measure(art, flat, n, max(500, 16000 // n))
        step(f"  {n} replayed sensors: {by_sensors[n]:,.0f} predictions/s end to end")
    return {"runtime": runtime, "end_to_end_predictions_per_s_by_sensors": by_sensors}


def leaves_throughput(work: Path) -> dict:
    from bench import sensor_cost as sc
    from bench.gateway_throughput import rate
    from host import artifact
    from host.runtime.engine import Predictor
    out = {}
    for depth in (2, 3, 4, 5, 6):
        m = sc.random_model(32, depth=depth)
        art = artifact.write(work / f"art-d{depth}", m.config, m.arrays)
        pred = Predictor(art)
        hq = np.random.default_rng(0).integers(-20000, 20000, (256, 32)).astype(np.int16)
        out[2 ** depth] = rate(lambda: pred.predict(hq), 256, 0.5)
    return out


# The TX interrupt: each byte costs an exception entry and return (12 cycles each, the Cortex-M
# interrupt latency without tail-chaining) plus the handler's instructions, counted from the ELF.
EXCEPTION_CYCLES = 24
TX_ISR_FUNCTIONS = ("USART3_IRQHandler", "console_tx_pop", "ring_pop")


def tx_interrupt_cycles(elf: Path) -> int:
    """An upper bound of one TX interrupt on the NUCLEO: every instruction of the handler and the
    functions it calls for one byte (each counted once; ring_pop's loop runs once for one byte)."""
    import subprocess
    out = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    count, inside = 0, False
    for line in out.splitlines():
        if line.endswith(">:"):
            inside = line.split("<", 1)[1][:-2] in TX_ISR_FUNCTIONS
        elif inside and ":\t" in line:
            count += 1
    return count + EXCEPTION_CYCLES


def energy(sensor_res: dict, bytes_latent: int, isr_cycles: int) -> dict:
    t_enc = sensor_res["cycles"]["rtlnf"] / CPU_HZ
    t_tx = bytes_latent * BITS_PER_BYTE / BAUD
    t_isr = bytes_latent * isr_cycles / CPU_HZ
    polled = VDD * I_RUN_A * (t_enc + t_tx)                                  # the core waits, awake
    as_built = VDD * (I_RUN_A * (t_enc + t_isr) + I_SLEEP_A * (t_tx - t_isr))  # TX interrupt per byte, WFI between
    dma = VDD * (I_RUN_A * t_enc + I_SLEEP_A * t_tx)                         # TX by DMA, core in WFI meanwhile
    target_j = TARGETS["energy_mj"] / 1e3
    return {"model": f"E = VDD x (I_run x t_active + I_sleep x t_sleeping); VDD {VDD} V, I_run {I_RUN_A} A, "
                     f"I_sleep {I_SLEEP_A} A (assumed, see the note), t_encoder from the cycle model, "
                     f"t_tx = {bytes_latent} B x 10 bit / {BAUD} baud, the TX interrupt {isr_cycles} cycles a byte "
                     f"(its instructions in the NUCLEO ELF plus {EXCEPTION_CYCLES} for entry and return)",
            "t_encoder_us": t_enc * 1e6, "t_tx_us": t_tx * 1e6, "t_tx_interrupts_us": t_isr * 1e6,
            "tx_interrupt_cycles": isr_cycles,
            "mj_per_inference_as_built_interrupt_tx": as_built * 1e3,
            "mj_per_inference_polled_tx": polled * 1e3,
            "mj_per_inference_dma_tx_wfi": dma * 1e3,
            "mj_encoder_only": VDD * I_RUN_A * t_enc * 1e3,
            "i_sleep_a_to_meet_target_as_built": (target_j / VDD - I_RUN_A * (t_enc + t_isr)) / (t_tx - t_isr)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifact", type=Path,
                    help="an exported artifact (default: artifacts/default, else the demo model make demo trains)")
    ap.add_argument("--windows", type=int, default=40, help="test windows streamed through QEMU (default 40)")
    ap.add_argument("--quick", action="store_true", help="skip the scaling sweeps and the solver ablation")
    args = ap.parse_args(argv)
    if args.artifact is None:                     # like make demo: the trained default, else a demo model,
        from host.demo import ensure_model        # exported to firmware/generated
        args.artifact = ensure_model()
    elif (args.artifact / "export.json").exists():
        subprocess_export(args.artifact)          # the firmware builds from firmware/generated: this model
    else:
        print(f"error: {args.artifact}: no exported artifact; run: python -m codegen train --out {args.artifact} "
              f"&& python -m codegen export {args.artifact}", file=sys.stderr)
        return 2
    from bench import ablations, link, memory, report, sensor_cost
    from host import artifact
    from host.hil import firmware
    t_start = time.time()
    art = artifact.load(args.artifact)
    export = json.loads((args.artifact / "export.json").read_text())
    res = {"artifact": str(args.artifact), "model": art.short_hash, "machine": os.uname().nodename,
           "date": time.strftime("%Y-%m-%d %H:%M"), "targets": TARGETS, "article": ARTICLE,
           "cycle_model": {"cpu_hz": CPU_HZ, "cycles_div": sensor_cost.CYCLES_DIV, "cycles_vdiv": sensor_cost.CYCLES_VDIV,
                           "load_store_multiple": "ceil(words / 2)"}}
    sensor_cost.ensure_tools()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        step("sensor cost: instructions per encoder step in QEMU (ours, CMSIS-DSP, float32, floor)")
        res["sensor"] = sensor(art, work)
        step("memory: the nucleo_h743zi build with this model")
        elf = firmware.build("nucleo_h743zi", build_dir=work / "nucleo", artifact=args.artifact)
        res["memory"] = memory.split(elf.parent / "firmware.map")
        step(f"link and on-target accuracy: {args.windows} test windows through QEMU and the gateway")
        qemu_elf = firmware.build("mps2_an500", build_dir=work / "mps2", artifact=args.artifact)
        res["link"] = link.measure(qemu_elf, args.artifact, args.windows)
        m = art.config["model"]
        res["link"]["wire_bytes"] = link.wire_bytes(m["hidden"], m["inputs"], len(art.config["class_names"]))
        h, t_us, labels = ablations.test_latents(art)      # golden fixed-point latents of the whole split
        res["gateway"] = gateway(art, h)
        batch1 = res["gateway"]["runtime"]["latents_per_s_per_core"]["float"]["1"]
        t_enc_ms = res["sensor"]["time_us_at_480MHz"]["rtlnf"] / 1000
        t_tx_ms = res["link"]["wire_bytes"]["latent"] * BITS_PER_BYTE / BAUD * 1000
        res["projection"] = {
            "encoder_ms": t_enc_ms, "uart_latent_ms": t_tx_ms, "gateway_runtime_ms": 1000 / batch1,
            "sample_to_prediction_ms": t_enc_ms + t_tx_ms + 1000 / batch1,
            "band_ms": [res["sensor"]["cycles_lower_bound"]["rtlnf"] / CPU_HZ * 1000 + t_tx_ms + 1000 / batch1,
                        t_enc_ms + t_tx_ms + 1000 / batch1],
            "method": "deterministic sum (the same at p50 and p95): encoder cycles (model) at 480 MHz, LATENT on the "
                      f"wire at {BAUD} baud 8N1, gateway runtime at batch 1 measured here; excludes the USB link "
                      "of the ST-LINK virtual COM port (polled every 1 ms by the host) and OS scheduling"}
        res["energy"] = energy(res["sensor"], res["link"]["wire_bytes"]["latent"], tx_interrupt_cycles(elf))
        step("accuracy and gateway ablations on the whole test split (golden fixed-point latents)")
        rep = export["report"]
        res["accuracy"] = {"float": rep["accuracy_float"], "fixed_point_encoder": rep["accuracy_fixed_point_encoder"],
                           "drop_points": rep["accuracy_drop_points"],
                           "on_target_emulator": res["link"]["accuracy_on_target"],
                           "on_target_windows": res["link"]["windows"],
                           "offline_same_windows": float(np.mean(np.array(rep["test_predictions"]["fixed_point"]
                                                                          [:res["link"]["windows"]])
                                                                 == np.array(rep["test_predictions"]["labels"]
                                                                             [:res["link"]["windows"]]))),
                           "fallback_int8": rep["fallback_accuracy_int8"], "test_windows": rep["test_windows"]}
        res["ablations"] = {"gateway": ablations.routing(art, h, t_us, labels),
                            "training": art.metrics().get("ablations", {})}
        whole = res["sensor"]["instructions"]["rtlnf"] + res["sensor"]["instructions"]["forest_f32"]
        d = res["sensor"]["dims"]
        forest_bytes = 4 * (d["trees"] * (d["leaves"] - 1) * (d["hidden"] + 1) + d["leaves"] * d["expert"] * (d["hidden"] + 1)
                            + d["leaves"] * d["classes"] * (d["expert"] + 1))
        res["ablations"]["split"] = {
            "whole model on the sensor: instructions per sample": whole,
            "whole model on the sensor: time at 480 MHz (us)":
                (res["sensor"]["cycles"]["rtlnf"] + res["sensor"]["cycles"]["forest_f32"]) / CPU_HZ * 1e6,
            "whole model on the sensor: extra flash for router + leaves (float32 bytes)": forest_bytes,
            "vertical split: sensor instructions per sample": res["sensor"]["instructions"]["rtlnf"],
            "vertical split: bytes per inference": res["link"]["wire_bytes"]["latent"],
            "whole model on the sensor: bytes per inference (LOCAL_PREDICTION)": res["link"]["wire_bytes"]["local_prediction"],
        }
        if not args.quick:
            step("solver ablation: fixed-step fused Euler vs adaptive DOP853")
            res["ablations"]["solver"] = ablations.solver(art)
            step("scaling: hidden size and number of leaves")
            res["scaling"] = scaling(work)
            res["scaling"]["gateway_latents_per_s_by_leaves"] = leaves_throughput(work)
    res["bench_seconds"] = time.time() - t_start
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    (RESULTS / "bench.md").write_text(report.markdown(res))
    report.plots(res, RESULTS)
    step(f"wrote results/bench.json, results/bench.md and plots in {res['bench_seconds']:.0f} s")
    print(report.markdown(res))
    return 0


def subprocess_export(artifact_dir: Path) -> None:
    """The firmware builds from firmware/generated: make sure it holds this artifact's model."""
    import subprocess
    subprocess.run([sys.executable, "-m", "codegen", "export", str(artifact_dir)], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
