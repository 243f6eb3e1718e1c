"""The book machinery: executing the notebooks (:mod:`idl_book.runner`, :mod:`idl_book.pages`),
judging each page current or stale (:mod:`idl_book.page_status`), the scorecard
(:mod:`idl_book.scorecard`, :mod:`idl_book.terminal`), the answer boxes and the stale-page
banners of the Sphinx build (:mod:`idl_book.answer_box`, :mod:`idl_book.sphinx_status`) and the
``idl-book`` command (:mod:`idl_book.cli`).

The course code (:mod:`idl_helpers`) never imports this package (``tests/test_layout.py``), so
a fix here makes no page stale except the scorecard page, which shows what this package computes.
"""
