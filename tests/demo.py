"""make demo: dualstackd against a local EC2 emulator (moto server, signature checking on),
on the example of AWS's "Migrating to IPv6" guide. Prints what dualstackd observes."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "py"))
from fleet import guide_example  # noqa: E402
from services import ROOT, Moto  # noqa: E402


def main():
    moto = Moto().start()
    try:
        ids = guide_example(moto.client())
        env = moto.env()
        print(f"moto server on {moto.endpoint}; the guide's example is VPC {ids['vpc']}\n")
        for kind in ("vpcs", "subnets", "route-tables", "security-groups", "network-acls",
                     "instances"):
            out = subprocess.run([os.path.join(ROOT, "dualstackd"), "describe", kind, "--vpc",
                                  ids["vpc"]], env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr)
            items = next(iter(json.loads(out.stdout).values()))
            print(f"== dualstackd describe {kind} --vpc {ids['vpc']}: {len(items)}")
            for item in items:
                summary = {k: v for k, v in item.items() if isinstance(v, (str, int, bool))}
                print("  ", json.dumps(summary)[:160])
        print("\nThe reconcile engine (plan/apply) and the Kafka daemon come next; see README.")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
