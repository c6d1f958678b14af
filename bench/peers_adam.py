#!/usr/bin/python3
"""Adam peers for bench/train_vs_peers: torch.optim.Adam and MLPClassifier(solver='adam').

The same data, shapes, initial weight distribution (scikit-learn's Glorot rule), thread
configurations and report layout as the shared peers_bench.py (imported from --peers, not
copied), with Adam in place of plain SGD: lr --lr (default 0.001), betas (0.9, 0.999), eps 1e-8,
no weight decay / alpha 0, batch --batch (default 64). Prints a JSON report on stdout
({"env", "data", "torch": [rows], "sklearn": [rows]}, each row as peers_bench.py's with
"optimizer": "adam"), progress on stderr. Run with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import sys
import time
import warnings


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", required=True, help="the shared peers dir (peers_bench.py)")
    ap.add_argument("--data", required=True, help="directory with train10k.csv and test.csv")
    ap.add_argument("--train", default="train10k.csv")
    ap.add_argument("--test", default="test.csv")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--archs", default="500,1000,500x500,1000x1000")
    ap.add_argument("--activations", default="logistic,relu")
    ap.add_argument("--sections", default="torch,sklearn", help="comma list of sgemm,torch,sklearn")
    ap.add_argument("--torch-configs", default="t1,t2,t1_blasdefault")
    ap.add_argument("--sklearn-threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    sys.path.insert(0, os.path.abspath(args.peers))
    import peers_bench as pb  # noqa: E402  (the shared peers: read, never changed)
    import threadpoolctl
    import torch
    import torch.nn.functional as F
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    archs = [tuple(int(h) for h in a.split("x")) for a in args.archs.split(",") if a]
    acts = [a for a in args.activations.split(",") if a]
    sections = [s for s in args.sections.split(",") if s]
    configs = [c for c in args.torch_configs.split(",") if c]
    for c in configs:
        if c not in pb.TORCH_CONFIGS:
            ap.error(f"--torch-configs: unknown {c!r} (one of {', '.join(pb.TORCH_CONFIGS)})")

    t_start = time.perf_counter()
    rep = {"args": vars(args), "env": pb.env_report()}
    xtr, ytr, t_tr = pb.load_csv(os.path.join(args.data, args.train))
    xte, yte, t_te = pb.load_csv(os.path.join(args.data, args.test))
    rep["data"] = {"train_file": os.path.join(args.data, args.train),
                   "train_rows": int(xtr.shape[0]),
                   "test_file": os.path.join(args.data, args.test),
                   "test_rows": int(xte.shape[0]), "dtype": str(xtr.dtype), "scale": "x/255"}
    log(f"data: train {xtr.shape} test {xte.shape}")

    if "sgemm" in sections:
        sg_args = argparse.Namespace(sgemm_n=2048, sgemm_seconds=1.0, c_sgemm=True)
        rep["sgemm"] = pb.bench_sgemm(sg_args)

    if "torch" in sections:
        rows = []
        txtr, tytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
        txte, tyte = torch.from_numpy(xte), torch.from_numpy(yte)
        n = xtr.shape[0]
        for cfg in configs:
            tt, bt = pb.TORCH_CONFIGS[cfg]
            for act in acts:
                for arch in archs:
                    with pb.set_torch_threads(tt, bt):
                        ob = pb.openblas_threads()
                        torch.manual_seed(args.seed)
                        gen = torch.Generator().manual_seed(args.seed)
                        model = pb.torch_model(arch, act)
                        opt = torch.optim.Adam(model.parameters(), lr=args.lr,
                                               betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
                        epoch_s, losses = [], []
                        for _ in range(args.epochs):
                            t0 = time.perf_counter()
                            perm = torch.randperm(n, generator=gen)
                            xs, ys = txtr[perm], tytr[perm]
                            total = 0.0
                            for i in range(0, n, args.batch):
                                xb, yb = xs[i:i + args.batch], ys[i:i + args.batch]
                                loss = F.cross_entropy(model(xb), yb)
                                opt.zero_grad(set_to_none=True)
                                loss.backward()
                                opt.step()
                                total += float(loss) * xb.shape[0]
                            epoch_s.append(time.perf_counter() - t0)
                            losses.append(total / n)
                        with torch.no_grad():
                            acc = float((model(txte).argmax(1) == tyte).float().mean())
                    spe = sum(epoch_s) / len(epoch_s)
                    fl = pb.flops_per_epoch(arch, n)
                    r = {"tool": "torch", "optimizer": "adam", "config": cfg,
                         "torch_threads": tt, "openblas_threads_requested": bt,
                         "openblas_threads_seen": ob, "activation": act,
                         "arch": pb.arch_name(arch), "epochs": len(epoch_s),
                         "epoch_seconds": epoch_s, "sec_per_epoch": spe, "test_acc": acc,
                         "train_loss": losses, "gflops_gemm": fl["gemm"] / spe / 1e9}
                    rows.append(r)
                    log(f"  torch adam {cfg:14s} {act:8s} {pb.arch_name(arch):9s} "
                        f"{spe:7.3f} s/epoch  acc={acc:.4f}  openblas_threads={ob}")
        torch.set_num_threads(1)
        rep["torch"] = rows

    if "sklearn" in sections:
        rows = []
        for act in acts:
            for arch in archs:
                clf = MLPClassifier(hidden_layer_sizes=arch, activation=act, solver="adam",
                                    alpha=0.0, batch_size=args.batch, learning_rate_init=args.lr,
                                    beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                                    max_iter=args.epochs, tol=0.0, n_iter_no_change=10 ** 9,
                                    early_stopping=False, shuffle=True, random_state=args.seed)
                with threadpoolctl.threadpool_limits(args.sklearn_threads, user_api="blas"), \
                        warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t0 = time.perf_counter()
                    clf.fit(xtr, ytr)
                    fit_s = time.perf_counter() - t0
                    acc = float(clf.score(xte, yte))
                spe = fit_s / clf.n_iter_
                fl = pb.flops_per_epoch(arch, xtr.shape[0])
                r = {"tool": "sklearn", "optimizer": "adam", "activation": act,
                     "arch": pb.arch_name(arch), "blas_threads": args.sklearn_threads,
                     "epochs": int(clf.n_iter_), "fit_seconds": fit_s, "sec_per_epoch": spe,
                     "test_acc": acc, "coef_dtype": str(clf.coefs_[0].dtype),
                     "gflops_gemm": fl["gemm"] / spe / 1e9}
                rows.append(r)
                log(f"  sklearn adam t={args.sklearn_threads} {act:8s} {pb.arch_name(arch):9s} "
                    f"{spe:7.3f} s/epoch  acc={acc:.4f}  dtype={r['coef_dtype']}")
        rep["sklearn"] = rows

    rep["total_wall_seconds"] = time.perf_counter() - t_start
    json.dump(rep, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
