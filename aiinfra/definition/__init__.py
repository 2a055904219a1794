"""The cluster definition: the one input everything else is derived from.

``model`` is the typed schema, ``loader`` reads a YAML file into it with file:line:field
errors, ``schema`` writes the JSON Schema, ``nccl_variables`` is NCCL's vocabulary.

Example:
    >>> from aiinfra.definition import load_definition
    >>> load_definition("clusters/a800-ib.yaml").name  # doctest: +SKIP
    'a800-ib'
"""

from aiinfra.definition.loader import DEFAULT_DEFINITION, load_definition
from aiinfra.definition.model import ClusterDefinition, definition_from_env

__all__ = ["DEFAULT_DEFINITION", "ClusterDefinition", "definition_from_env", "load_definition"]
