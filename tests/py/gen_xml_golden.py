"""Parses the recorded EC2 XML fixtures with botocore's own EC2 parser and writes the result
next to each fixture as JSON. The C decoder's unit test compares its output with these files,
so the oracle is botocore, not our own code. Run after adding or re-recording a fixture."""
import glob
import json
import os
import sys

import botocore.session
from botocore.parsers import create_parser

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "xml")


def main():
    model = botocore.session.get_session().get_service_model("ec2")
    parser = create_parser("ec2")
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.xml"))):
        op = os.path.basename(path)[:-4].split("-")[0]
        body = open(path, "rb").read()
        shape = model.operation_model(op).output_shape
        parsed = parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)
        parsed.pop("ResponseMetadata", None)
        if op == "DescribeInstances":  # dualstackd flattens reservations
            parsed = {"Instances": [i for r in parsed.get("Reservations", []) for i in r["Instances"]],
                      **({"NextToken": parsed["NextToken"]} if "NextToken" in parsed else {})}
        with open(path[:-4] + ".json", "w") as f:
            json.dump(parsed, f, indent=1, sort_keys=True, default=str)
            f.write("\n")
        print("wrote", os.path.relpath(path[:-4] + ".json"), file=sys.stderr)


if __name__ == "__main__":
    main()
