"""Command line of the codegen: `python -m codegen train ...` (later: export)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from codegen.emit import GENERATED_DIR


def _positive(v: str) -> int:
    n = int(v)
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {v}")
    return n


def cmd_train(args) -> int:
    from codegen.training.recordings import RecordingError
    from codegen.training.train import TrainOptions, run
    from host.link.protocol import max_array_length

    opts = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                        ablations=not args.no_ablations)
    overrides = {"hidden": args.hidden, "substeps": args.substeps, "trees": args.trees, "depth": args.depth}
    if args.hidden > max_array_length("LATENT"):
        print(f"codegen train: error: --hidden {args.hidden}: a LATENT of that many neurons does not fit a link "
              f"frame (at most {max_array_length('LATENT')})", file=sys.stderr)
        return 2
    if args.dataset != "synthetic" and not Path(args.dataset).exists():
        print(f"codegen train: error: {args.dataset}: no such file (use 'synthetic' or a .npz/.csv path)",
              file=sys.stderr)
        return 2
    try:
        art = run(args.dataset, Path(args.out), overrides, args.window, args.windows, opts)
    except RecordingError as exc:
        print(f"codegen train: error: {exc}", file=sys.stderr)
        return 2
    m = art.metrics()
    model = m["model"]
    print(f"artifact  {art.path}  (model hash {art.short_hash})")
    print(f"accuracy  train {100 * model['train_accuracy']:.2f} %   val {100 * model['val_accuracy']:.2f} %   "
          f"test {100 * model['test_accuracy']:.2f} %   (fallback expert: test {100 * model['test_fallback_accuracy']:.2f} %)")
    for key, name in (("ablation_single_leaf", "single leaf (no forest)"), ("ablation_uniform_dt", "uniform dt (timestamps ignored)")):
        if key in m:
            print(f"ablation  {name}: test {100 * m[key]['test_accuracy']:.2f} %")
    se = m["solver_error"]
    print(f"solver    fused Euler x{se['substeps']} vs DOP853: max |dh| {se['max_abs']:.2e}, mean {se['mean_abs']:.2e}")
    print(f"time      {m['total_seconds']:.0f} s")
    if args.json:
        print(json.dumps(m, indent=2))
    return 0


def cmd_export(args) -> int:
    from codegen.export import ExportError, export
    from codegen.quantize.encoder import QuantizationError
    from host.artifact import ArtifactError

    try:
        m = export(Path(args.artifact), Path(args.out), args.selftest)
    except (ArtifactError, QuantizationError, ExportError) as exc:
        print(f"codegen export: error: {exc}", file=sys.stderr)
        return 2
    r = m["report"]
    print(f"exported  model {m['model_hash_short']} ({m['hidden']} neurons, {m['inputs']} inputs, "
          f"{m['substeps']} sub-step{'s' if m['substeps'] != 1 else ''}) to {args.out}")
    print(f"latents   fixed point vs float: max |dh| {r['latent_error_max_abs']:.2e}, "
          f"mean {r['latent_error_mean_abs']:.2e} on {r['test_windows']} test windows")
    print(f"accuracy  float {100 * r['accuracy_float']:.2f} %   fixed-point encoder "
          f"{100 * r['accuracy_fixed_point_encoder']:.2f} %   (drop {r['accuracy_drop_points']:.2f} points)")
    print(f"fallback  float {100 * r['fallback_accuracy_float']:.2f} %   int8 {100 * r['fallback_accuracy_int8']:.2f} %")
    print(f"leaves    int8 (gateway --leaves int8, TFLite Micro) {100 * r['accuracy_int8_leaves']:.2f} %")
    print(f"memory    encoder {r['flash_encoder_bytes']} B flash + {r['ram_encoder_bytes']} B RAM, "
          f"fallback {r['flash_fallback_bytes']} B flash + {r['ram_fallback_bytes']} B RAM (constants, state, scratch)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m codegen", description="RT-LNF model training and code generation")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the LTC encoder, routing forest and leaf experts",
                       description="Train the model and write an artifact directory.")
    t.add_argument("--dataset", default="synthetic",
                   help="'synthetic' (the built-in benchmark) or a recording file (.npz or .csv, see docs/data.md)")
    t.add_argument("--out", default="artifacts/default", help="artifact directory to write (default: %(default)s)")
    t.add_argument("--window", type=_positive, default=384, help="samples per training window (default: %(default)s)")
    t.add_argument("--windows", type=_positive, default=4500,
                   help="synthetic windows to generate (default: %(default)s)")
    t.add_argument("--epochs", type=_positive, default=24)
    t.add_argument("--batch-size", type=_positive, default=64)
    t.add_argument("--hidden", type=_positive, default=32, help="LTC neurons (default: %(default)s)")
    t.add_argument("--substeps", type=_positive, default=1, help="Euler sub-steps per sample (default: %(default)s)")
    t.add_argument("--trees", type=_positive, default=4)
    t.add_argument("--depth", type=int, default=3, choices=range(0, 7), metavar="{0..6}",
                   help="tree depth; 2^depth leaf experts (default: %(default)s)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-ablations", action="store_true", help="skip the single-leaf and uniform-dt ablations")
    t.add_argument("--json", action="store_true", help="also print all metrics as JSON")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("export", help="quantize the encoder and write the firmware's generated sources",
                       description="Quantize an artifact's encoder to fixed point, report its cost, "
                                   "and write rtlnf_model.h/.c for the firmware.")
    e.add_argument("artifact", help="artifact directory written by `codegen train`")
    e.add_argument("--out", default=str(GENERATED_DIR),
                   help="where to write rtlnf_model.h/.c (default: firmware/generated)")
    e.add_argument("--selftest", type=int, default=0, metavar="STEPS",
                   help="also write selftest_vectors.h: STEPS test samples with the golden outputs, "
                        "for the on-target self-test (env mps2_an500_selftest)")
    e.set_defaults(func=cmd_export)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
