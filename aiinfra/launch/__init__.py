"""The public launch API (``cluster``: launch/connect, Cluster, Job), the backend protocol both
backends implement (``protocol``), the local-Ray backend (``local``) and the progress display."""
