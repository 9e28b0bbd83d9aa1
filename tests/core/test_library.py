"""The library's sections: every photo once, by folder or by month taken, filtered by name."""

from __future__ import annotations

from photofind.core.library import NO_DATE, SectionBy, sections
from tests.cleanupkit import fake_record

RECORDS = [
    fake_record("/pics/trip/IMG_2.jpg", taken="2023-05-02T10:00:00"),
    fake_record("/pics/home/b.png"),
    fake_record("/pics/trip/IMG_1.jpg", taken="2023-05-01T09:00:00"),
    fake_record("/pics/home/A.jpg", taken="2024-01-07T12:00:00"),
]


def _paths(found) -> list[tuple[str, list[str]]]:
    return [(s.title, [RECORDS[i].path for i in s.members]) for s in found]


def test_by_folder_lists_folders_in_order_and_photos_by_name():
    assert _paths(sections(RECORDS, SectionBy.FOLDER)) == [
        ("/pics/home", ["/pics/home/A.jpg", "/pics/home/b.png"]),
        ("/pics/trip", ["/pics/trip/IMG_1.jpg", "/pics/trip/IMG_2.jpg"]),
    ]


def test_by_date_newest_month_first_in_taken_order_and_undated_last():
    assert _paths(sections(RECORDS, SectionBy.DATE)) == [
        ("January 2024", ["/pics/home/A.jpg"]),
        ("May 2023", ["/pics/trip/IMG_1.jpg", "/pics/trip/IMG_2.jpg"]),
        (NO_DATE, ["/pics/home/b.png"]),
    ]


def test_name_filter_is_case_insensitive_and_drops_empty_sections():
    found = sections(RECORDS, SectionBy.FOLDER, " img_ ")
    assert _paths(found) == [("/pics/trip", ["/pics/trip/IMG_1.jpg", "/pics/trip/IMG_2.jpg"])]
    assert sections(RECORDS, SectionBy.DATE, "nothing matches") == []


def test_every_photo_appears_exactly_once():
    for by in SectionBy:
        members = [i for s in sections(RECORDS, by) for i in s.members]
        assert sorted(members) == list(range(len(RECORDS)))


def test_folders_are_titled_from_the_scanned_folder_that_holds_them():
    records = [
        fake_record("/tmp/pytest-of-me/pytest-42/test_x0/lib/trip/a.jpg"),
        fake_record("/tmp/pytest-of-me/pytest-42/test_x0/lib/b.jpg"),
        fake_record("/elsewhere/c.jpg"),
        fake_record("/tmp/pytest-of-me/pytest-42/test_x0/lib/trip/day2/d.jpg"),
    ]
    roots = ["/tmp/pytest-of-me/pytest-42/test_x0/lib/", "/tmp/pytest-of-me/pytest-42/test_x0/lib/trip"]
    found = sections(records, SectionBy.FOLDER, roots=roots)
    assert [(s.title, s.key) for s in found] == [
        ("/elsewhere", "/elsewhere"),  # under no scanned folder: the full path
        ("lib", "/tmp/pytest-of-me/pytest-42/test_x0/lib"),
        ("trip", "/tmp/pytest-of-me/pytest-42/test_x0/lib/trip"),  # the nearer root names it
        ("trip/day2", "/tmp/pytest-of-me/pytest-42/test_x0/lib/trip/day2"),
    ]
    assert sections(records, SectionBy.FOLDER, roots=["/tmp/pytest-of-me/pytest-4"])[1].title.startswith(
        "/tmp"
    )


def test_a_photo_at_the_root_of_a_drive_is_in_the_root_folder():
    records = [fake_record("/a/y.jpg"), fake_record("/x.jpg"), fake_record("/a/b/z.jpg")]
    assert [(s.key, [records[i].path for i in s.members]) for s in sections(records, SectionBy.FOLDER)] == [
        ("/", ["/x.jpg"]),
        ("/a", ["/a/y.jpg"]),
        ("/a/b", ["/a/b/z.jpg"]),
    ]


def test_an_empty_library_has_no_sections():
    assert sections([], SectionBy.FOLDER) == [] and sections([], SectionBy.DATE) == []
