"""The dataset on disk: layout (SPEC §2), verification, contact-sheet previews."""
