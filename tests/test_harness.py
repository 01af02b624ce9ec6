"""The fairness harness packs catalogue variants only where they cannot influence each other."""

from harness import Cells, Variant, pack

CELLS = Cells(
    answers={
        "pad": "def pad(x):\n    return x",
        "conv": "def conv(x):\n    # uses pad, see below\n    return pad(x)",
        "pool": "def pool(x):\n    '''a docstring naming conv is no call'''\n    return x",
        "norm": "def norm(x):\n    return x",
    },
    tests={
        "test_pad": "assert pad(1) == 1",
        "test_conv": "assert conv(1) == 1",
        "test_conv_hidden": "assert conv(2) == 2",
        "test_pool": "import torch.nn.functional as F\nassert pool(1) == F.max_pool2d",
        "test_norm": "assert norm(1) == 1",
        "test_norm_and_pool": "assert norm(pool(1)) == 1",
    },
)


def _v(name, cell, code=None):
    return Variant(name, cell, code or f"def {cell}(x):\n    return x  # {name}")


def test_reach_follows_calls_between_answers_but_not_comments_or_attributes():
    assert CELLS.reach("pad") == {"test_pad", "test_conv", "test_conv_hidden"}
    assert CELLS.reach("conv") == {"test_conv", "test_conv_hidden"}
    assert CELLS.reach("pool") == {"test_pool", "test_norm_and_pool"}


def test_variants_of_one_answer_never_share_a_submission():
    packs = pack([_v("a", "pad"), _v("b", "pad"), _v("c", "pad")], CELLS)
    assert sorted(len(p) for p in packs) == [1, 1, 1]


def test_an_answer_and_the_answers_that_call_it_are_graded_apart():
    packs = pack([_v("a", "pad"), _v("b", "conv")], CELLS)
    assert len(packs) == 2


def test_answers_sharing_a_test_cell_are_graded_apart():
    assert len(pack([_v("a", "norm"), _v("b", "pool")], CELLS)) == 2


def test_independent_answers_share_one_submission():
    (only,) = pack([_v("a", "pad"), _v("b", "pool")], CELLS)
    assert {v.name for v in only} == {"a", "b"}


def test_a_variant_calling_another_answer_is_not_packed_with_it():
    calls = _v("a", "pool", "def pool(x):\n    return pad(x)")
    assert len(pack([calls, _v("b", "pad")], CELLS)) == 2


def test_helpers_with_one_name_in_two_variants_are_graded_apart():
    one = _v("a", "pad", "def _helper(x):\n    return x\n\ndef pad(x):\n    return _helper(x)")
    two = _v("b", "pool", "def _helper(x):\n    return -x\n\ndef pool(x):\n    return _helper(x)")
    assert len(pack([one, two], CELLS)) == 2


def test_the_same_import_in_two_variants_is_harmless():
    one = _v("a", "pad", "import numpy as np\n\ndef pad(x):\n    return np.pad(x, 1)")
    two = _v("b", "pool", "import numpy as np\n\ndef pool(x):\n    return np.max(x)")
    assert len(pack([one, two], CELLS)) == 1


def test_two_variants_that_do_not_parse_are_graded_apart():
    broken = _v("a", "pad", "def pad(x)\n    return x")
    other = _v("b", "pool", "def pool(x:\n    return x")
    assert len(pack([broken, other], CELLS)) == 2
