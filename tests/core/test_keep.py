import numpy as np
import pytest

from photofind.core.cleanup.keep import (
    DEFAULT_CHAIN,
    KeeperPolicy,
    Rule,
    RuleError,
    apply_policy,
    default_keeper_key,
    edit_markers,
    format_class,
    format_rules,
    parse_rules,
    pick_keeper,
    with_keeper,
)
from photofind.core.types import Group, Member, Tier
from tests.cleanupkit import fake_record as rec


def keeper(records, chain, protected=()):
    policy = KeeperPolicy.parse(chain, protected)
    return records[policy.pick(records, range(len(records)))].path


# -- each rule, and what happens on a tie ------------------------------------------------------


def test_resolution_prefers_more_pixels_and_ties_fall_to_the_next_rule():
    small = rec("/p/small.jpg", width=100, height=100, size=9000)
    big_a = rec("/p/big_a.jpg", width=200, height=100, size=1000)
    big_b = rec("/p/big_b.jpg", width=100, height=200, size=2000)
    assert keeper([small, big_a, big_b], "resolution") in ("/p/big_a.jpg",)  # tie -> path
    assert keeper([small, big_a, big_b], "resolution,size") == "/p/big_b.jpg"
    assert keeper([small, big_a, big_b], "size") == "/p/small.jpg"


def test_oldest_and_newest_date_taken_put_undated_files_last():
    old = rec("/p/old.jpg", taken="2015-06-01T10:00:00")
    new = rec("/p/new.jpg", taken="2021-01-01T09:30:00")
    undated = rec("/p/a-undated.jpg", taken=None)
    assert keeper([undated, old, new], "oldest") == "/p/old.jpg"
    assert keeper([undated, old, new], "newest") == "/p/new.jpg"
    assert keeper([undated, rec("/p/b.jpg", taken="not a date")], "oldest,shortest") == "/p/b.jpg"


def test_oldest_file_time():
    files = [rec("/p/a.jpg", mtime_ns=300), rec("/p/b.jpg", mtime_ns=100), rec("/p/c.jpg", mtime_ns=200)]
    assert keeper(files, "mtime") == "/p/b.jpg"


def test_preferred_folders_in_the_order_given(tmp_path):
    files = [rec("/lib/inbox/x.jpg"), rec("/lib/originals/sub/x.jpg"), rec("/lib/edits/x.jpg")]
    assert keeper(files, "folder:/lib/originals") == "/lib/originals/sub/x.jpg"
    assert keeper(files, "folder:/lib/edits|/lib/originals") == "/lib/edits/x.jpg"
    # A folder whose name only starts like the preferred one does not count as inside it.
    assert (
        keeper([rec("/lib/originals-old/x.jpg"), rec("/lib/z/x.jpg")], "folder:/lib/originals,shortest")
        == "/lib/z/x.jpg"
    )


@pytest.mark.parametrize(
    "edited",
    [
        "IMG_0001 copy.jpg",
        "IMG_0001 - Copy.jpg",
        "IMG_0001 - Copy (2).jpg",
        "IMG_0001 (1).jpg",
        "IMG_0001-edited.jpg",
        "IMG_0001_Edit.jpg",
        "Copy of IMG_0001.jpg",
        "IMG_0001 Kopie.jpg",
    ],
)
def test_unedited_name_beats_copies_and_edits(edited):
    assert edit_markers(f"/p/{edited}") >= 1
    assert keeper([rec(f"/p/{edited}"), rec("/p/zz/IMG_0001.jpg")], "unedited") == "/p/zz/IMG_0001.jpg"


@pytest.mark.parametrize(
    "name", ["IMG_0001.jpg", "copyright.jpg", "photocopy.jpg", "DSC_1 2019.jpg", "editorial.jpg"]
)
def test_ordinary_names_carry_no_edit_marker(name):
    assert edit_markers(f"/p/{name}") == 0


def test_format_order_default_and_configured():
    heic = rec("/p/x.heic", fmt="HEIF")
    jpeg = rec("/p/x.jpg", fmt="JPEG")
    png = rec("/p/x.png", fmt="PNG")
    webp = rec("/p/x.webp", fmt="WEBP")
    raw = rec("/p/x.dng", fmt="TIFF")
    assert format_class(raw) == "raw" and format_class(heic) == "heic"
    assert keeper([webp, png, jpeg, heic, raw], "format") == "/p/x.dng"
    assert keeper([webp, png, jpeg, heic], "format") == "/p/x.heic"
    assert keeper([webp, png, jpeg], "format") == "/p/x.jpg"
    assert keeper([webp, png, jpeg, heic], "format:png>webp") == "/p/x.png"
    # Formats missing from the order rank after listed ones, and tie among themselves.
    assert keeper([heic, rec("/p/a.gif", fmt="GIF")], "format:jpeg") == "/p/a.gif"


def test_shortest_path():
    assert (
        keeper([rec("/p/deep/er/x.jpg"), rec("/p/longer-name.jpg"), rec("/p/x.jpg")], "shortest")
        == "/p/x.jpg"
    )


def test_final_tie_is_the_path_so_order_of_input_never_matters():
    a, b = rec("/p/b.jpg"), rec("/p/a.jpg")
    assert keeper([a, b], "size") == keeper([b, a], "size") == "/p/a.jpg"


def test_protected_folder_beats_every_rule():
    big = rec("/lib/new/x.jpg", width=4000, height=3000)
    small = rec("/lib/safe/x.jpg", width=10, height=10)
    assert keeper([big, small], "resolution") == "/lib/new/x.jpg"
    assert keeper([big, small], "resolution", protected=["/lib/safe"]) == "/lib/safe/x.jpg"


def test_default_chain_keeps_the_heic_original_over_a_bigger_jpeg_transcode_and_not_a_copy():
    heic = rec("/p/IMG_1.heic", width=4032, height=3024, size=2_000_000, fmt="HEIF")
    jpeg = rec("/p/IMG_1.jpg", width=4032, height=3024, size=5_000_000, fmt="JPEG")
    assert keeper([jpeg, heic], "") == "/p/IMG_1.heic"
    original = rec("/p/zz/IMG_2.jpg", size=5000)
    copy = rec("/p/IMG_2 (1).jpg", size=5000)
    assert keeper([copy, original], "") == "/p/zz/IMG_2.jpg"
    smaller = rec("/p/IMG_3.jpg", width=1000, height=750)
    assert keeper([smaller, rec("/p/IMG_3 copy.jpg", width=2000, height=1500)], "") == "/p/IMG_3 copy.jpg"


def test_pick_keeper_and_default_key_keep_their_old_contract():
    files = [rec("/p/a.jpg", width=10, height=10), rec("/p/b.jpg", width=20, height=20)]
    assert pick_keeper(files, [0, 1]) == 1
    assert min(files, key=default_keeper_key).path == "/p/b.jpg"


# -- parsing -------------------------------------------------------------------------------------


def test_parse_aliases_arguments_and_round_trip():
    rules = parse_rules(
        " Resolution , largest,oldest-file, folder:/a|/b ,format:heic>JPG,original-name,path "
    )
    assert [r.name for r in rules] == [
        "resolution",
        "size",
        "mtime",
        "folder",
        "format",
        "unedited",
        "shortest",
    ]
    assert rules[3] == Rule("folder", ("/a", "/b"))
    assert rules[4] == Rule("format", ("heic", "jpeg"))
    assert parse_rules(format_rules(rules)) == rules
    assert format_rules(parse_rules("")) == DEFAULT_CHAIN


@pytest.mark.parametrize(
    "text, message",
    [
        ("resolution,biggest", "unknown keeper rule 'biggest'"),
        ("folder:", "needs a folder"),
        ("size:3", "takes no argument"),
        ("format:>", "needs an order"),
        (",,", "empty"),
    ],
)
def test_parse_errors_say_what_is_wrong(text, message):
    with pytest.raises(RuleError, match=message):
        parse_rules(text)


def test_explain_names_the_deciding_rule():
    policy = KeeperPolicy.parse("resolution,size,shortest", ["/safe"])
    files = [rec("/p/a.jpg", size=10), rec("/p/b.jpg", size=20)]
    assert policy.explain(files, [0, 1]) == "largest file"
    assert policy.explain([rec("/p/a.jpg"), rec("/safe/a.jpg")], [0, 1]) == "in a protected folder"
    assert policy.explain(files, [0]) == "only file"


# -- re-keeping a group ---------------------------------------------------------------------------


def test_with_keeper_puts_the_new_keeper_first_and_recomputes_similarities():
    files = [rec("/p/a.jpg", chash="h1"), rec("/p/b.jpg", chash="h2"), rec("/p/c.jpg", chash="h1")]
    emb = np.array([[1, 0], [0.6, 0.8], [1, 0]], dtype=np.float32)
    group = Group(1, Tier.NEAR, (Member(0, 1.0), Member(2, 1.0), Member(1, 0.6)), 0.6, 0.8)
    moved = with_keeper(group, files, 1, emb)
    assert moved.keep_index == 1 and sorted(moved.indices) == [0, 1, 2]
    assert [round(m.similarity, 4) for m in moved.members] == [1.0, 0.6, 0.6]
    assert moved.min_similarity == pytest.approx(0.6)
    assert with_keeper(group, files, 0, emb) is group
    (kept,) = apply_policy([group], files, KeeperPolicy.parse("folder:/nowhere,shortest"))
    assert kept.keep_index == 0


def test_protected_folders_are_recognised_through_folder_symlinks(tmp_path):
    real = tmp_path / "photos" / "originals"
    real.mkdir(parents=True)
    (tmp_path / "shortcut").symlink_to(real)
    inside = rec(str(real / "x.jpg"), width=1, height=1)
    outside = rec(str(tmp_path / "photos" / "x.jpg"), width=100, height=100)
    assert keeper([inside, outside], "resolution", protected=[str(tmp_path / "shortcut")]) == inside.path
    assert (
        keeper([inside, outside], "resolution", protected=[str(tmp_path / "shortcut" / "sub")])
        == outside.path
    )


def test_marks_and_policies_follow_the_derivation_tree():
    """When the original is marked, the keeper falls to the next-best by the tree: the copy
    made from it with fewer changes is not outranked by a bigger, edited one."""
    from photofind.core.cleanup.marks import Marks
    from photofind.core.types import Derivation

    files = [
        rec("/p/original.jpg", width=100, height=100, size=5000),
        rec("/p/boxed.jpg", width=180, height=100, size=9000),  # letterboxed: bars add pixels
        rec("/p/twin.png", width=100, height=100, size=7000, fmt="PNG"),  # the same pixels as a PNG
    ]
    tree = (
        Derivation(0, None, (), True, 100 * 100),
        Derivation(1, 0, ("bars added",), False, 100 * 100),
        Derivation(2, 0, ("converted to PNG",), True, 100 * 100),
    )
    group = Group(1, Tier.NEAR, (Member(0, 1.0), Member(1, 1.0), Member(2, 1.0)), 1.0, 1.0, (), tree)
    assert KeeperPolicy().pick(files, group.indices) == 1  # without the tree: raw pixels win
    (picked,) = apply_policy([group], files, KeeperPolicy())
    assert picked.keep_index == 0  # the root; its PNG twin loses on format
    assert picked.keep_reason == "format order (format:raw>heic>jpeg>png>webp)"
    marks = Marks(files, [group])
    assert marks.mark(1, 0) is None
    assert marks.keeper(1) == 2  # the lossless twin, not the letterboxed copy
