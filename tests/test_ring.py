"""firmware/core/ring.c (the UART RX ring) against a Python model, compiled for the host."""

import ctypes
from collections import deque

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule


class Ring(ctypes.Structure):
    _fields_ = [
        ("storage", ctypes.POINTER(ctypes.c_uint8)),
        ("mask", ctypes.c_uint32),
        ("head", ctypes.c_uint32),
        ("tail", ctypes.c_uint32),
        ("overflows", ctypes.c_uint32),
    ]


@pytest.fixture(scope="module")
def lib(host_c):
    lib = host_c(["core/ring.c"])
    lib.ring_init.argtypes = [ctypes.POINTER(Ring), ctypes.POINTER(ctypes.c_uint8), ctypes.c_uint32]
    lib.ring_init.restype = ctypes.c_bool
    lib.ring_push.argtypes = [ctypes.POINTER(Ring), ctypes.c_uint8]
    lib.ring_push.restype = ctypes.c_bool
    lib.ring_pop.argtypes = [ctypes.POINTER(Ring), ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t]
    lib.ring_pop.restype = ctypes.c_size_t
    lib.ring_count.argtypes = [ctypes.POINTER(Ring)]
    lib.ring_count.restype = ctypes.c_uint32
    return lib


@pytest.mark.parametrize("capacity", [0, 1, 3, 6, 100, 1000])
def test_rejects_capacity_that_is_not_a_power_of_two(lib, capacity):
    ring = Ring()
    storage = (ctypes.c_uint8 * max(capacity, 1))()
    assert not lib.ring_init(ctypes.byref(ring), storage, capacity)
    assert not lib.ring_push(ctypes.byref(ring), 7), "an unusable ring must refuse pushes"
    assert ring.overflows == 1


def test_indices_wrap_around_32_bits(lib):
    ring = Ring()
    storage = (ctypes.c_uint8 * 8)()
    assert lib.ring_init(ctypes.byref(ring), storage, 8)
    ring.head = ring.tail = 0xFFFFFFFD  # a ring that has moved 4 G bytes
    for b in range(8):
        assert lib.ring_push(ctypes.byref(ring), b)
    assert not lib.ring_push(ctypes.byref(ring), 99)
    out = (ctypes.c_uint8 * 8)()
    assert lib.ring_pop(ctypes.byref(ring), out, 8) == 8
    assert list(out) == list(range(8))
    assert lib.ring_count(ctypes.byref(ring)) == 0


def make_machine(lib):
    class RingMachine(RuleBasedStateMachine):
        @initialize(log2_capacity=st.integers(1, 6))
        def setup(self, log2_capacity):
            self.capacity = 1 << log2_capacity
            self.storage = (ctypes.c_uint8 * self.capacity)()
            self.ring = Ring()
            assert lib.ring_init(ctypes.byref(self.ring), self.storage, self.capacity)
            self.model = deque()
            self.dropped = 0

        @rule(data=st.binary(min_size=1, max_size=80))
        def push(self, data):
            for b in data:
                accepted = lib.ring_push(ctypes.byref(self.ring), b)
                assert accepted == (len(self.model) < self.capacity)
                if accepted:
                    self.model.append(b)
                else:
                    self.dropped += 1

        @rule(n=st.integers(0, 80))
        def pop(self, n):
            out = (ctypes.c_uint8 * max(n, 1))()
            got = lib.ring_pop(ctypes.byref(self.ring), out, n)
            expected = [self.model.popleft() for _ in range(min(n, len(self.model)))]
            assert got == len(expected)
            assert list(out[:got]) == expected

        @invariant()
        def counts_agree(self):
            if hasattr(self, "ring"):
                assert lib.ring_count(ctypes.byref(self.ring)) == len(self.model)
                assert self.ring.overflows == self.dropped

    return RingMachine


def test_ring_matches_fifo_model(lib):
    machine = make_machine(lib)
    machine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
    machine.TestCase().runTest()
