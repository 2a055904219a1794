"""Chinese text of each alert's meaning for docs/zh/runbooks (the check and action texts live with the alerts).

Numbers here must match the English descriptions (thresholds): tests/test_monitor_rules.py compares them,
so a changed threshold cannot leave a stale Chinese page.

Example:
    >>> DESCRIPTIONS_ZH["IbPortDown"].startswith("数据 rail")
    True
"""

from __future__ import annotations

DESCRIPTIONS_ZH = {
    "GpuXidFatal": "XID 属于 NVIDIA 目录中的 RESET_GPU/RESTART_BM 类：在 GPU 复位或节点重启之前，该 GPU 不可信。",
    "GpuXidNvlink": "XID 属于目录中的 NVLink 处理类（74、144-150）：该 GPU 的 NVLink 通信正在失败。",
    "GpuXidApplication": "XID 属于目录中的 RESTART_APP/IGNORE 类：GPU 上的程序失败，GPU 本身健康。",
    "GpuMissing": "dcgm-exporter 或 NVML（aiinfra exporter）报告的 GPU 少于定义声明的数量：GPU 掉卡（XID 79）"
    "或其驱动未加载。",
    "GpuRowRemapFailed": "GPU 无法重映射出错的 HBM 行：这是 NVIDIA 的 RMA 判据。",
    "GpuRowRemapPending": "有一次行重映射等待下次 GPU 复位；在此之前该行不可用。",
    "GpuUncorrectableRowsGrowing": "过去一小时内因不可纠正错误而重映射的 HBM 行增加：显存正在劣化。",
    "GpuDoubleBitEcc": "出现易失性不可纠正（双比特）ECC 错误：即 XID 48 路径；该 GPU 上的数据可能已损坏。",
    "GpuSingleBitEccStorm": "一小时内可纠正错误超过 100 个：这是 XID 92 和不可纠正错误的先兆。",
    "GpuThermalSlowdown": "硬件因过热降低 GPU 时钟已达 1m；整个作业以这块 GPU 的速度运行。",
    "GpuPowerBrakeSlowdown": "硬件因 power-brake 降低 GPU 时钟已达 1m；整个作业以这块 GPU 的速度运行。",
    "GpuTemperatureHigh": "GPU 核心高于 85 °C 或 HBM 高于 95 °C 已达 1m：距过热降频已无余量。",
    "GpuPcieReplays": "10 分钟内 PCIe 重传超过 10 次：GPU 与其 PCIe 交换芯片之间存在信号完整性问题。",
    "GpuPcieDowntrained": "PCIe 链路协商的宽度低于 GPU 支持的宽度（例如 x8 而非 x16），主机与 GPUDirect 带宽减半。"
    "链路代数在空闲时为省电而下降，不告警。",
    "GpuNvlinkDown": "某条 NVLink 链路未激活，且激活的链路少于集群定义的 NVLink 带宽所对应的数量："
    "节点内的 all-reduce 退回较慢的路径或挂起。",
    "GpuNvlinkErrors": "NVLink CRC、重传或恢复错误增加：XID 74 的先兆。",
    "GpuHealthFailing": "DCGM 被动健康监视报告 FAIL（监视项 ALL 包含 XID 79 和 95）。",
    "GpuHealthWarning": "DCGM 被动健康监视报告 WARN。",
    "IbPortDown": "数据 rail 不处于 ACTIVE/LinkUp：经过它的集合通信会挂起或回退。",
    "IbPortMissing": "sysfs 中缺少已声明的 HCA 端口（aiinfra exporter 会指出 rail；"
    "node_exporter 显示的 rail 端口少于 4 个）："
    "驱动失败，或网卡从 PCIe 上掉线。",
    "IbRateDegraded": "端口协商的宽度或速率低于声明值（4X -> 2X，NDR -> HDR）：该 rail 悄无声息地只提供部分带宽，"
    "拖慢每一次集合通信。",
    "IbLinkDowned": "link-downed 计数增加：链路至少断开过一次；经过它的 NCCL 连接已中断。",
    "IbLinkFlapping": "5 分钟内链路错误恢复超过 5 次：线缆或光模块处于临界状态。",
    "IbSymbolErrorBurst": "每秒符号错误超过 10 个：FEC 接近耗尽。",
    "IbSymbolErrorsHigh": "一小时内符号错误超过 120 个（IBTA 1e-12 误码率上限）。",
    "IbLinkIntegrityErrors": "出现本地链路完整性错误或缓冲区溢出错误：链路的无损约定被破坏。",
    "IbReceiveErrors": "收到损坏的报文（PortRcvErrors 或远端物理错误）：线缆故障或对端发送器故障。",
    "IbCongestion": "PortXmitWait 快速增长：端口有数据但没有信用（拥塞或接收方过慢）。",
    "RdmaRetriesExhausted": "某个 QP 用尽传输重试或 RNR 重试并进入错误状态：经过它的 NCCL 连接失败"
    "（node_exporter 不读取的 mlx5 计数器）。",
    "RdmaTransportRetries": "本地 ACK 超时、序列错误或 RNR NAK 增加：NCCL 超时的先兆。",
    "RdmaCongestionNotifications": "处理或发送了大量 CNP：ECN 标记了 RoCE 网络上的拥塞（DCQCN 正在限速）。",
    "BondDown": "节点的管理网络已断开：kubelet 无法连接 API server，节点将变为 NotReady。",
    "BondMemberDown": "MII 为 up 的成员少于 bond 的成员数：节点在没有管理网冗余的情况下运行。",
    "BondMemberWrongAggregator": "该成员链路为 up，但 LACP 把它放进了与 bond 活动聚合器不同的聚合器，因此不承载流量；"
    "node_exporter 仍把它算作活动成员。",
    "BondNoLacpPartner": "活动聚合器的对端 MAC 全为零：交换机端口未配置 LACP，bond 至多只用一个成员运行。",
    "BondLacpChurn": "该成员的 actor 或 partner churn 状态一直为 'churned'：与交换机的 LACP 协商失败。",
    "BondMemberFlapping": "该成员链路在 15 分钟内失败超过 2 次（Link Failure Count）。",
    "NodeDown": "节点为 NotReady，或 node_exporter 与 aiinfra exporter 都不应答。此告警触发期间，"
    "该节点的端口、GPU 和 bond 告警被抑制。",
    "NodeExporterDown": "Prometheus 无法抓取该节点上的 node_exporter：依赖它的告警在该节点上失明。",
    "DcgmExporterDown": "Prometheus 无法抓取该节点上的 dcgm-exporter：依赖它的告警在该节点上失明。",
    "AiinfraExporterDown": "Prometheus 无法抓取该节点上的 aiinfra exporter：依赖它的告警在该节点上失明。",
    "DcgmExporterMissing": "aiinfra exporter 在这个 GPU 节点上运行，"
    "但 Prometheus 在该节点上没有抓取任何 dcgm-exporter："
    "GPU 温度、ECC 和健康告警对它失明。",
    "DcgmExporterStale": "GPU 的能耗计数 2m 未变化：dcgm-exporter 有应答但其 DCGM 数据已冻结"
    "（hostengine 挂起或被 profiling 锁住）。",
    "ExporterScrapeSlow": "抓取耗时占去了大部分超时时间：后续抓取可能超时，目标会显示为宕机。",
    "AiinfraCollectorFailing": "aiinfra exporter 的某个采集器无法读取其数据源；使用其指标的告警失明。",
    "NodeConformanceFailed": "某项节点检查（GPUDirect 路径、ACS、IOMMU、MTU、memlock、驱动版本）失败："
    "作业变慢或退回 socket。",
    "GpuXidWatchDown": "aiinfra exporter 无法在该 GPU 上注册 NVML XID 事件：GpuXidFatal 对它失明。",
    "KubeRayOperatorDown": "operator 宕机期间，已运行的 Ray 集群继续运行，但不会创建、扩缩或修复任何集群。",
    "RayClusterNotProvisioned": "KubeRay 报告该 RayCluster 的 Pod 在 10m 内未全部就绪。",
    "RayHeadUnreachable": "Prometheus 无法访问 Ray head 的 metrics 端口：head Pod 已消失或挂起；"
    "作业和 dashboard 不可用，"
    "worker 失去 GCS。",
    "RayHeadNotScraped": "KubeRay 知道该集群，但 Prometheus 没有其 head 的抓取目标：PodMonitor 不匹配"
    "（缺少 metrics 端口或标签）或 head 从未启动。",
    "RayWorkerUnreachable": "某个 worker 的 metrics 端口无应答：worker Pod 挂起或其节点宕机；它的 rank 拖住整个作业。",
    "RayWorkerRestarts": "worker Pod 中的 Ray 节点重新启动（其 metrics agent 的启动时间变化）：容器已重启，"
    "其 rank 丢失，训练从检查点重新开始。",
    "FabricTestNcclOnSockets": "网络测试的 NCCL 运行使用了 Socket 传输而不是 InfiniBand/RoCE："
    "该节点上的训练只能发挥一小部分带宽。",
    "FabricTestRailBelowTarget": "fabric 测试测得该 rail 的带宽低于预期的 90%。",
    "FabricTestStale": "该节点的网络测试结果已过时：计数器发现不了的 rail 劣化可能被忽视。",
}
