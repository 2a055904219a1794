"""NCCL: the environment declared by the definition (``declared``), refined on a node
(``node_env``), and what NCCL's own log says it did (``log``, ``log_findings``)."""
