"""What a piece of work costs the machine, process by process: CPU seconds read
from /proc for the stack's process tree and the RabbitMQ nodes on this machine
(every one: run nothing else on RabbitMQ meanwhile), before and after; and the
stack's resident memory.

    meter = CpuMeter(stack.pid)
    before = meter.read()
    ...                              # the work
    costs = meter.since(before)      # {"reports": 9.8, "RabbitMQ": 4.6, ...} seconds
    memory = meter.resident_mb()     # {"search": 182.0, "gateway": 240.5, ...} MB
"""
import os
import re
import subprocess
from collections import Counter

TICKS = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    def __init__(self, root_pid):
        self.root_pid = root_pid

    def read(self):
        """{pid: (label, CPU seconds so far)} of every process of the stack, and the broker's."""
        found = {}
        for pid in self._tree(self.root_pid) + self._brokers():
            try:
                with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline") as cmdline:
                    fields = stat.read().rsplit(")", 1)[1].split()
                    found[pid] = (label(cmdline.read().split("\0")), (int(fields[11]) + int(fields[12])) / TICKS)
            except (FileNotFoundError, ProcessLookupError):
                pass  # ended meanwhile
        return found

    def resident_mb(self):
        """{label: MB of resident memory now} of the stack's processes (not the
        broker's), instances of one program added up."""
        found = Counter()
        for pid in self._tree(self.root_pid):
            try:
                with open(f"/proc/{pid}/status") as status, open(f"/proc/{pid}/cmdline") as cmdline:
                    kilobytes = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
                    found[label(cmdline.read().split("\0"))] += kilobytes / 1024
            except (FileNotFoundError, ProcessLookupError, StopIteration):
                pass  # ended meanwhile, or a zombie
        return dict(found)

    def since(self, before):
        """CPU seconds spent since `before` (a read()), summed by label."""
        spent = Counter()
        for pid, (name, seconds) in self.read().items():
            spent[name] += seconds - before.get(pid, (name, 0.0))[1]
        return dict(spent)

    def _tree(self, pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                kids = [int(kid) for kid in children.read().split()]
        except FileNotFoundError:
            return []
        return [pid] + [descendant for kid in kids for descendant in self._tree(kid)]

    @staticmethod
    def _brokers():
        found = subprocess.run(["pgrep", "-x", "beam.smp"], capture_output=True, text=True).stdout
        return [int(pid) for pid in found.split()]


def label(argv):
    """A process's short name: its service, or what else it is."""
    text = " ".join(argv)
    if match := re.search(r"(?:booking|entrypoints)\.(\w+)\.service:", text):
        return match.group(1)
    if match := re.search(r"booking\.devstack\.(\w+)", text):
        return {"mailsink": "mail sink (SMTP)", "bank": "sandbox bank"}.get(match.group(1), match.group(1))
    if "beam.smp" in argv[0]:
        return "RabbitMQ"
    if text.endswith("monolith.py") or "monolith.py " in text:
        return "monolith"
    return "runner" if "booking" in text else os.path.basename(argv[0])
