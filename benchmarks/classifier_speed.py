"""Speed of the boilerplate classifier stage alone, as ``dedup bench`` measures it, and a profile.

Cleans generated documents (test split, seed 0, as ``dedup bench``) with the default config and
reports the boilerplate stage's MB/s (input bytes over the stage's seconds) and the whole
clean's; ``--profile N`` prints the N functions with the most time inside the stage's run.
Run with OMP_NUM_THREADS=1 on an otherwise idle core.

    python benchmarks/classifier_speed.py --docs 2000 --repeat 3
    python benchmarks/classifier_speed.py --docs 2000 --profile 30
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from dedup.allocator import tune_runtime
from dedup.corpus import GeneratorConfig, generate
from dedup.pipeline import Cleaner
from dedup.types import Document


def run(texts: list[str]) -> tuple[float, float]:
    """Seconds of the boilerplate stage and of the whole clean."""
    cleaner = Cleaner()
    t0 = time.perf_counter()
    for _ in cleaner.clean_documents(Document(str(i), t) for i, t in enumerate(texts)):
        pass
    total = time.perf_counter() - t0
    stage = cleaner.stats.stage_seconds["boilerplate"]
    cleaner.close()
    return stage, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="show the top N functions")
    args = parser.parse_args()
    tune_runtime()
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=args.docs, seed=0,
                                                             split="test"))]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(texts)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)
        return
    for _ in range(args.repeat):
        stage, total = run(texts)
        print(f"{args.docs} documents, {mb:.2f} MB: boilerplate classifier alone "
              f"{mb / stage:.2f} MB/s ({stage:.3f} s), whole clean {mb / total:.2f} MB/s "
              f"({total:.3f} s)")


if __name__ == "__main__":
    main()
