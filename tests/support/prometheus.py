"""Parses a Prometheus text exposition (stdin) with prometheus_client's own parser,
the one Prometheus' Python ecosystem reads scrapes with, and prints its families
as JSON: [{"name", "type", "samples": [{"name", "labels", "value"}]}]. A malformed
exposition fails the parser, and so the test."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = [
    {
        "name": family.name,
        "type": family.type,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples],
    }
    for family in text_string_to_metric_families(sys.stdin.read())
]
json.dump(families, sys.stdout)
