"""File-name extensions photofind reads as photos. No imports: discovery, capture units, RAW
decoding and the keeper rules all read these without depending on each other."""

RAW_EXTENSIONS = frozenset(
    ".dng .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .orf .rw2 .raf .pef .srw .x3f .3fr .iiq .rwl "
    ".erf .kdc .dcr .mos .mrw .raw".split()
)
PHOTO_EXTENSIONS = (
    frozenset(".jpg .jpeg .jpe .png .webp .tif .tiff .bmp .gif .heic .heif .avif".split()) | RAW_EXTENSIONS
)
