#!/usr/bin/env python3
"""Tests of examples/shop/traffic.py's order bookkeeping: LiveIds must pick exactly what
rng.choice(list(orders)) picked, so the generated traffic (and the benchmarks' inputs) stay the
same while long runs stop being quadratic."""
import importlib.util
import json
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "examples", "shop", "traffic.py")


def load_traffic():
    spec = importlib.util.spec_from_file_location("traffic", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


traffic = load_traffic()


class LiveIdsTest(unittest.TestCase):
    def test_matches_a_list_through_appends_and_removes(self):
        rng = random.Random(7)
        live, reference, next_id = traffic.LiveIds(), [], 0
        for step in range(20000):
            if reference and rng.random() < 0.4:
                victim = rng.choice(reference)
                reference.remove(victim)
                live.remove(victim)
            else:
                live.append("o-%d" % next_id)
                reference.append("o-%d" % next_id)
                next_id += 1
            self.assertEqual(len(live), len(reference))
            if reference:  # the first, the last and one in between
                for k in {0, len(reference) - 1, rng.randrange(len(reference))}:
                    self.assertEqual(live[k], reference[k], "step %d, k %d" % (step, k))
        self.assertEqual([live[k] for k in range(len(live))], reference)
        with self.assertRaises(IndexError):
            live[len(live)]


class ShopTrafficTest(unittest.TestCase):
    def test_same_exchanges_as_choosing_from_the_dict(self):
        class ListShop(traffic.Shop):  # the way it was: a list of the dict's keys per pick
            def existing(self):
                return self.rng.choice(list(self.orders)) if self.orders else None

        clock = traffic.time.time
        traffic.time.time = lambda: 1.7e9  # now() reads the wall clock
        try:
            fast, slow = traffic.Shop(42), ListShop(42)
            for i in range(6000):
                a = json.dumps(fast.next(), separators=(",", ":"))
                b = json.dumps(slow.next(), separators=(",", ":"))
                self.assertEqual(a, b, "exchange %d" % i)
        finally:
            traffic.time.time = clock


if __name__ == "__main__":
    unittest.main()
