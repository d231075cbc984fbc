"""What goes out: the results bundle of a period, its static site, and the push to the DTI site.

Read in this order: ``marts`` (what the warehouse says) → ``bundle`` (results.json, CSVs,
manifest) → ``site`` and ``charts`` (the static pages) → ``releases`` (history of a
republished period) → ``push`` (upload to the DTI site) → ``summary`` and ``cli``.
"""
