"""The node agent of process-backed simulator nodes: a small kubelet whose pods really run.

One agent process (started by ``aiinfra sim up --process-nodes N``) plays every process-backed node
of one simulator: it keeps each node Ready and its Lease renewed (:mod:`.node`), and runs every pod
the scheduler binds to those nodes (:mod:`.runner`) in its own network, mount and PID namespaces
(:mod:`aiinfra.netns`, :mod:`.sandbox`, :mod:`.pod_mounts`), with the kubelet's handling of env,
volumes, probes, status and deletion (:mod:`.podspec`, :mod:`.volumes`, :mod:`.probes`). Logs and port-forward
reach the pods through kwok's kubelet streaming server, like a real kubelet's.

Example:
    $ python -m aiinfra.sim.agent --state-dir /tmp/sim --server https://127.0.0.1:6443 --kubelet-port 10250
"""
