"""results/bench.md and the plots, from the results dictionary of `python -m bench`."""

from __future__ import annotations

from pathlib import Path


def _ok(value, target, less=True) -> str:
    met = value <= target if less else value >= target
    return "met" if met else "**not met**"


def markdown(r: dict) -> str:
    s, t, L, e, a = r["sensor"], r["targets"], r["link"], r["energy"], r["accuracy"]
    d, ins, fl = s["dims"], s["instructions"], s["floor"]
    mem, art = r["memory"], r["article"]
    p = r["projection"]
    lines = [
        f"# RT-LNF benchmark ({r['date']}, model {r['model']})", "",
        f"Produced by `make bench` (`python -m bench`); every number with its method in `results/bench.json`. "
        f"Model: LTC encoder {d['hidden']} neurons, {d['inputs']} inputs, {d['substeps']} sub-step{'s' if d['substeps'] != 1 else ''}; forest "
        f"{d['trees']} trees of depth {d['depth']} ({d['leaves']} leaves), experts of {d['expert']} units, {d['classes']} classes.", "",
        "## Headline, against the article and our targets", "",
        "| metric | RT-LNF here | article | target | |", "|---|---|---|---|---|",
        f"| sensor encoder step (instructions) | {ins['rtlnf']:,.0f} | - | <= {t['encoder_instructions_32_12']:,} at 32/12 | "
        f"{_ok(ins['rtlnf'], t['encoder_instructions_32_12'])} |",
        f"| projected sample -> prediction on hardware | {p['sample_to_prediction_ms']:.2f} ms (dual-issue bound {p['band_ms'][0]:.2f}) | "
        f"{art['p95_ms']} ms (p95) | <= {t['hardware_p95_ms']} ms | {_ok(p['sample_to_prediction_ms'], t['hardware_p95_ms'])} |",
        f"| pipeline p95 above the emulator's echo floor (ECHO of the same frame sizes; REQUEST -> STATS) | "
        f"{L['above_same_size_floor_ms']['p95']:.2f} ms ({L['above_echo_floor_ms']['p95']:.2f} ms) | - | "
        f"<= {t['pipeline_p95_above_floor_ms']} ms | {_ok(L['above_same_size_floor_ms']['p95'], t['pipeline_p95_above_floor_ms'])} |",
        f"| bytes per inference (LATENT on the wire) | {L['wire_bytes']['latent']} B | {art['bytes_per_inference']} B | <= {t['bytes']} B | "
        f"{_ok(L['wire_bytes']['latent'], t['bytes'])} |",
        f"| sensor flash / RAM (nucleo_h743zi build) | {mem['flash_total'] / 1024:.1f} KB / {mem['ram_total'] / 1024:.1f} KB | "
        f"{art['sensor_memory_bytes'] / 1e6:.1f} MB | <= 64 KB / 32 KB | {_ok(mem['flash_total'], t['flash'])} / {_ok(mem['ram_total'], t['ram'])} |",
        f"| energy per inference, as built: TX by interrupt, WFI between bytes (TX by DMA) | "
        f"{e['mj_per_inference_as_built_interrupt_tx']:.3f} mJ ({e['mj_per_inference_dma_tx_wfi']:.3f} mJ) | {art['energy_mj']} mJ | "
        f"<= {t['energy_mj']} mJ | {_ok(e['mj_per_inference_as_built_interrupt_tx'], t['energy_mj'])} "
        f"(met with a sleep current <= {1000 * e['i_sleep_a_to_meet_target_as_built']:.0f} mA) |",
        f"| accuracy: float / fixed point / on target | {100 * a['float']:.2f} / {100 * a['fixed_point_encoder']:.2f} / "
        f"{100 * a['on_target_emulator']:.2f} % ({a['on_target_windows']} windows; offline on them {100 * a['offline_same_windows']:.2f} %) | "
        f"{100 * art['accuracy']:.1f} % | drop <= {t['quantization_drop_points']} pts | {_ok(a['drop_points'], t['quantization_drop_points'])} |",
        "",
        "## 1. Sensor cost per encoder step (QEMU instruction counts)", "",
        f"{s['method']}.", "",
        "| implementation | instructions | cycles (model; dual-issue bound) | us at 480 MHz | vs ours |",
        "|---|---|---|---|---|",
    ]
    cyc, low = s["cycles"], s["cycles_lower_bound"]
    for k, name in (("rtlnf", "RT-LNF, Cortex-M7 kernel (solver/cortex_m7/, SMLAD + LDM)"),
                    ("rtlnf_reference", "RT-LNF, portable reference C (solver/ltc_q15.c)"),
                    ("cmsis", "CMSIS-DSP 1.10 q15 peer"), ("float32", "float32 C peer (expf)")):
        lines.append(f"| {name} | {ins[k]:,.0f} | {cyc[k]:,.0f}; {low[k]:,.0f} | {s['time_us_at_480MHz'][k]:.2f} | "
                     f"{ins[k] / ins['rtlnf']:.2f}x |")
    lines += [
        f"| floor: {fl['macs']:,} MACs / 2 (dual 16-bit MAC) + {d['substeps'] * d['hidden']} table activations | {fl['floor']:,.0f} | | "
        f"{fl['floor'] / 480:.2f} | {fl['floor'] / ins['rtlnf']:.2f}x |",
        f"| single-pass MAC floor (W x and U h once, the issue's 704 at 32/12) | {fl['floor_single_pass']:,.0f} | | | |", "",
        "Cycle model: one cycle per instruction, load/store multiples ceil(words / 2) (measured on an STM32H743, "
        "github.com/jnk0le/random), SDIV/UDIV 7 and VDIV.F32 16 (LLVM's Cortex-M7 scheduling model); the bound "
        "assumes perfect dual issue (at most one multiply a cycle; load/store multiples, LDRD and divides alone). "
        "Load-use and branch stalls are not modelled. Our kernel's instruction mix per step: "
        + ", ".join(f"{k} {v}" for k, v in list(s["mix"]["rtlnf"].items())[:10]) + ".", "",
        f"Ratios: ours / MAC floor {s['ratios']['ours / single-pass MAC floor']:.2f} (target <= {t['floor_ratio']}; "
        f"{s['ratios']['ours / floor']:.2f} against the floor with activations), "
        f"CMSIS-DSP / ours {s['ratios']['CMSIS-DSP q15 / ours']:.2f}, float32 / ours {s['ratios']['float32 C / ours']:.2f} "
        f"(target >= {t['peer_ratio']}). Other per-sample costs on the M7: the int8 fallback expert "
        f"{ins['fallback_s8']:,.0f} instructions; router + leaves in float32 {ins['forest_f32']:,.0f}.", "",
        "## 2. Memory of the nucleo_h743zi build (bytes)", "",
        "| part | flash | RAM |", "|---|---|---|",
    ]
    for part in mem["flash"]:
        lines.append(f"| {part} | {mem['flash'][part]:,} | {mem['ram'].get(part, 0):,} |")
    lines += [f"| stack (reserved, bound checked at build) | | {mem['ram']['stack (reserved)']:,} |",
              f"| **total** | **{mem['flash_total']:,}** | **{mem['ram_total']:,}** |", "",
              "## 3. Link", "",
              "| frame | bytes on the wire |", "|---|---|"]
    for k, v in L["wire_bytes"].items():
        lines.append(f"| {k} | {v} |")
    lines += ["", f"QEMU, {L['samples']} samples of {L['windows']} test windows, one in flight (ms):", "",
              "| | p50 | p95 |", "|---|---|---|"]
    for k, name in (("echo_floor_ms", "emulator echo floor (REQUEST -> STATS)"),
                    ("echo_floor_same_size_ms", f"emulator echo floor: ECHO, a SAMPLE's {L['sample_frame_bytes']} bytes in, a LATENT's out"),
                    ("sample_to_latent_ms", "SAMPLE -> LATENT"),
                    ("link_to_output_ms", "LATENT -> prediction line (gateway)"),
                    ("sample_to_prediction_ms", "SAMPLE -> prediction"),
                    ("above_same_size_floor_ms", "pipeline above the ECHO floor (same frame sizes)"),
                    ("above_echo_floor_ms", "pipeline above the REQUEST -> STATS floor")):
        lines.append(f"| {name} | {L[k]['p50']:.3f} | {L[k]['p95']:.3f} |")
    lines += ["", f"Projected on the NUCLEO-H743ZI: encoder {p['encoder_ms']:.3f} ms + LATENT on the wire {p['uart_latent_ms']:.3f} ms "
              f"+ gateway runtime {p['gateway_runtime_ms']:.3f} ms = **{p['sample_to_prediction_ms']:.2f} ms**; {p['method']}.", "",
              "## 4. Energy per inference (estimate)", "", f"{e['model']}.", "",
              f"- encoder only: {e['mj_encoder_only']:.4f} mJ ({e['t_encoder_us']:.1f} us)",
              f"- with the LATENT transmission ({e['t_tx_us']:.0f} us) as built: one TX interrupt a byte "
              f"({e['tx_interrupt_cycles']} cycles; {e['t_tx_interrupts_us']:.1f} us awake in all), the core in WFI "
              f"between them: {e['mj_per_inference_as_built_interrupt_tx']:.3f} mJ",
              f"- the same with the core awake polling the UART (the firmware before interrupt TX): "
              f"{e['mj_per_inference_polled_tx']:.3f} mJ",
              f"- with DMA transmission (not built) and the core in WFI meanwhile: {e['mj_per_inference_dma_tx_wfi']:.3f} mJ",
              f"- the target ({t['energy_mj']} mJ) is met as built if the sleep current during the transmission is at most "
              f"{1000 * e['i_sleep_a_to_meet_target_as_built']:.0f} mA: the transmission, not the encoder, sets the energy.", "",
              "The currents are assumed values in the range of the STM32H743 datasheet (DS12110), which is not "
              "available on this offline machine: verify them before quoting these figures. The only public figure "
              "found here is secondhand (a user quoting the datasheet in github.com/openmv/openmv issue 889: Sleep "
              "50-130 mA), which brackets the assumed sleep current.", "",
              "## 5. Accuracy (synthetic benchmark)", "",
              f"| model | accuracy |", "|---|---|",
              f"| float (training graph) | {100 * a['float']:.2f} % |",
              f"| fixed-point encoder + float router and leaves (offline, golden) | {100 * a['fixed_point_encoder']:.2f} % |",
              f"| on target: QEMU firmware + gateway, {a['on_target_windows']} windows | {100 * a['on_target_emulator']:.2f} % "
              f"(offline on the same windows {100 * a['offline_same_windows']:.2f} %) |",
              f"| sensor's int8 fallback expert alone | {100 * a['fallback_int8']:.2f} % |", "",
              "## 6. Ablations", "", "| variant | value |", "|---|---|"]
    for k, v in r["ablations"]["split"].items():
        lines.append(f"| {k} | {v:,.1f} |" if isinstance(v, float) else f"| {k} | {v:,} |")
    for k, v in r["ablations"]["gateway"].items():
        lines.append(f"| gateway: {k} | {100 * v:.2f} % |")
    for k, v in r["ablations"].get("training", {}).items():
        if isinstance(v, (int, float)):
            lines.append(f"| training ablation: {k} | {100 * v:.2f} % |" if v <= 1 else f"| training ablation: {k} | {v} |")
    if "solver" in r["ablations"]:
        sv = r["ablations"]["solver"]
        lines += [f"| solver: fixed-step (fused Euler, {sv['rhs_evaluations_per_sample_fixed']} sub-step{'s' if sv['rhs_evaluations_per_sample_fixed'] != 1 else ''}) accuracy on {sv['windows']} windows | "
                  f"{100 * sv['accuracy_fixed_step']:.2f} % |",
                  f"| solver: adaptive DOP853 accuracy on the same windows | {100 * sv['accuracy_adaptive']:.2f} % |",
                  f"| solver: latent difference fixed vs adaptive, max / mean | {sv['latent_max_abs_diff']:.4f} / {sv['latent_mean_abs_diff']:.5f} |",
                  f"| solver: right-hand-side evaluations per sample, adaptive vs fixed | "
                  f"{sv['rhs_evaluations_per_sample_adaptive']:.1f} vs {sv['rhs_evaluations_per_sample_fixed']} |"]
    g = r["gateway"]["runtime"]["latents_per_s_per_core"]
    lines += ["", "Gateway runtime, latents per second on one core:", "", "| runtime | batch 1 | batch 16 | batch 256 | batch 4096 |",
              "|---|---|---|---|---|"]
    for k, row in g.items():
        lines.append(f"| {k} | " + " | ".join(f"{row[b]:,.0f}" for b in ("1", "16", "256", "4096")) + " |")
    lines += ["", "## 7. Scaling", ""]
    sc = r.get("scaling")
    if sc:
        lines += ["| hidden | ours | CMSIS-DSP | float32 | floor | encoder flash B | encoder RAM B |", "|---|---|---|---|---|---|---|"]
        for H, row in sc["hidden"].items():
            lines.append(f"| {H} | {row['rtlnf']:,.0f} | {row['cmsis']:,.0f} | {row['float32']:,.0f} | {row['floor']:,.0f} | "
                         f"{row['encoder_flash_bytes']:,} | {row['encoder_ram_bytes']:,} |")
        lines += ["", "| leaves | router + leaves on the M7 (instructions) | their float32 flash B | gateway latents/s (batch 256) |",
                  "|---|---|---|---|"]
        for Lv, row in sc["leaves"].items():
            lines.append(f"| {Lv} | {row['forest_f32_instructions']:,.0f} | {row['forest_f32_flash_bytes']:,} | "
                         f"{sc['gateway_latents_per_s_by_leaves'][Lv]:,.0f} |")
    lines += ["", "| replayed sensors | gateway predictions/s end to end (sockets, framing, runtime, JSON) |", "|---|---|"]
    for n, v in r["gateway"]["end_to_end_predictions_per_s_by_sensors"].items():
        lines.append(f"| {n} | {v:,.0f} |")
    lines += ["", f"Benchmark wall time: {r['bench_seconds']:.0f} s.", ""]
    return "\n".join(lines)


def plots(r: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = r["sensor"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    names = ["floor", "RT-LNF", "CMSIS-DSP q15", "float32 C"]
    vals = [s["floor"]["floor"], s["instructions"]["rtlnf"], s["instructions"]["cmsis"], s["instructions"]["float32"]]
    ax.bar(names, vals, color=["#999", "#2a7", "#27a", "#a72"])
    ax.set_ylabel("instructions per encoder step")
    ax.set_title(f"Sensor cost, hidden {s['dims']['hidden']} / {s['dims']['inputs']} inputs")
    fig.tight_layout()
    fig.savefig(out / "sensor_cost.png", dpi=120)
    plt.close(fig)

    mem = r["memory"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    left = 0
    for part, v in mem["flash"].items():
        ax.barh(["flash"], [v], left=left, label=part)
        left += v
    left = 0
    for part, v in mem["ram"].items():
        ax.barh(["RAM"], [v], left=left, label=part if part not in mem["flash"] else None)
        left += v
    ax.set_xlabel("bytes")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("nucleo_h743zi build")
    fig.tight_layout()
    fig.savefig(out / "memory.png", dpi=120)
    plt.close(fig)

    sc = r.get("scaling")
    if sc:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        hs = [int(h) for h in sc["hidden"]]
        for key, name in (("rtlnf", "RT-LNF"), ("cmsis", "CMSIS-DSP q15"), ("float32", "float32 C"), ("floor", "floor")):
            ax.plot(hs, [sc["hidden"][h][key] for h in sc["hidden"]], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("hidden size")
        ax.set_ylabel("instructions per step")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "scaling_hidden.png", dpi=120)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    by = r["gateway"]["end_to_end_predictions_per_s_by_sensors"]
    ax.plot([int(k) for k in by], list(by.values()), marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("replayed sensors")
    ax.set_ylabel("predictions / s")
    ax.set_title("Gateway end to end")
    fig.tight_layout()
    fig.savefig(out / "gateway_scaling.png", dpi=120)
    plt.close(fig)
