"""Field-by-field comparison of dualstackd's JSON with boto3's answer for the same state."""
import re

MOTO_STATE = re.compile(r"^\{'State': '([a-z-]+)'\}$")


def subset_diff(ours, theirs, path="$"):
    """Every field dualstackd prints must be in boto3's answer with the same value. A false, a
    zero or an empty list may stand for an element the answer did not carry. Returns the list
    of differences (empty when equal)."""
    diffs = []
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [f"{path}: object vs {type(theirs).__name__}"]
        for k, v in ours.items():
            if k not in theirs:
                if v in (False, 0, []):
                    continue
                diffs.append(f"{path}.{k}: missing in boto3 (ours {v!r})")
                continue
            diffs += subset_diff(v, theirs[k], f"{path}.{k}")
        return diffs
    if isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            return [f"{path}: {len(ours)} items vs {theirs!r:.200}"]
        for i, (a, b) in enumerate(zip(ours, theirs)):
            diffs += subset_diff(a, b, f"{path}[{i}]")
        return diffs
    if isinstance(theirs, str) and isinstance(ours, str):
        m = MOTO_STATE.match(theirs)  # moto's subnet association state quirk
        if ours == theirs or (m and m.group(1) == ours):
            return []
    elif ours == theirs and type(ours) is type(theirs):
        return []
    elif isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) \
            and not isinstance(theirs, bool) and ours == theirs:
        return []
    return [f"{path}: ours {ours!r} boto3 {theirs!r}"]


def count_leaves(obj):
    if isinstance(obj, dict):
        return sum(count_leaves(v) for v in obj.values())
    if isinstance(obj, list):
        return sum(count_leaves(v) for v in obj)
    return 1
