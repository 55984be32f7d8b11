"""MVD's printed numbers (Wang et al., CVPR 2023, arXiv 2212.04500 v2), transcribed with their source.

Read from ``../shared/papers/mvd.txt`` (tables as printed; see the MVD spec §6 for the transcription
notes: "OmnMAE" in Table 3 is the paper's typo and is kept; † = student distilled for 800 epochs).
Every table is a list of row dicts; :func:`paper_frame` turns one into a DataFrame with a ``source``
column. Nothing here is measured.
"""
from __future__ import annotations

SOURCE = "MVD (Wang et al., CVPR 2023, arXiv 2212.04500)"


def _src(table: int, page: int) -> str:
    return f"{SOURCE}, Table {table}, p. {page}"


# Table 1 (p. 5): ViT-B teachers, 400-epoch students; K400 / SSv2 top-1 after fine-tuning.
TABLE1 = [
    dict(student="ViT-S", image_teacher=True, video_teacher=False, k400=80.4, ssv2=69.4),
    dict(student="ViT-S", image_teacher=False, video_teacher=True, k400=80.1, ssv2=70.0),
    dict(student="ViT-S", image_teacher=True, video_teacher=True, k400=80.6, ssv2=70.7),
    dict(student="ViT-B", image_teacher=True, video_teacher=False, k400=82.3, ssv2=71.4),
    dict(student="ViT-B", image_teacher=False, video_teacher=True, k400=82.1, ssv2=71.8),
    dict(student="ViT-B", image_teacher=True, video_teacher=True, k400=82.7, ssv2=72.5),
]
TABLE1_SOURCE = _src(1, 5)

# Table 2 (p. 5): MVD (co-teaching, 400 ep) vs VideoMAE (1600 ep), K400-pretrained.
TABLE2 = [
    dict(student="ViT-S", teacher="ViT-B", k400_videomae=79.0, k400_mvd=80.6, ssv2_videomae=66.4, ssv2_mvd=70.7),
    dict(student="ViT-S", teacher="ViT-L", k400_videomae=79.0, k400_mvd=81.0, ssv2_videomae=66.4, ssv2_mvd=70.9),
    dict(student="ViT-B", teacher="ViT-B", k400_videomae=81.5, k400_mvd=82.7, ssv2_videomae=69.7, ssv2_mvd=72.5),
    dict(student="ViT-B", teacher="ViT-L", k400_videomae=81.5, k400_mvd=83.4, ssv2_videomae=69.7, ssv2_mvd=73.7),
    dict(student="ViT-L", teacher="ViT-L", k400_videomae=85.2, k400_mvd=86.0, ssv2_videomae=74.0, ssv2_mvd=76.1),
]
TABLE2_SOURCE = _src(2, 5)

_T3 = """\
supervised|NL I3D R101 [65]|-|77.3|93.3|359|30|62
supervised|ip-CSN-152 [59]|-|77.8|92.8|109|30|33
supervised|SlowFast NL [22]|-|79.8|93.9|234|30|60
supervised|X3D-XL [20]|-|79.1|93.9|48|30|11
supervised|MViTv1-B [18]|-|80.2|94.4|170|5|37
supervised|VideoSwin-B [42]|IN-1K|80.6|94.6|282|12|88
supervised|Uniformer-B [36]|IN-1K|83.0|95.4|259|12|50
supervised|TimeSformer [4]|IN-21K|80.7|94.7|2380|3|121
supervised|Mformer-B [47]|IN-21K|79.7|94.2|370|30|109
supervised|Mformer-L [47]|IN-21K|80.2|94.8|1185|30|382
supervised|ViViT-L FE [1]|IN-21K|81.7|93.8|3980|3|N/A
supervised|VideoSwin-L [42]|IN-21K|83.1|95.9|604|12|197
self-supervised|VIMPAC ViT-L [55]|HowTo100M|77.4|N/A|N/A|30|307
self-supervised|BEVT Swin-B [63]|IN-1K|81.1|N/A|282|12|88
self-supervised|MaskFeat MViT-S [67]|-|82.2|95.1|71|10|36
self-supervised|VideoMAE ViT-S [57]|-|79.0|93.8|57|15|22
self-supervised|VideoMAE ViT-B [57]|-|81.5|95.1|180|15|87
self-supervised|VideoMAE ViT-L [57]|-|85.2|96.8|597|15|305
self-supervised|VideoMAE ViT-H [57]|-|86.6|97.1|1192|15|633
self-supervised|ST-MAE ViT-B [21]|-|81.3|94.9|180|21|87
self-supervised|ST-MAE ViT-L [21]|-|84.8|96.2|598|21|304
self-supervised|ST-MAE ViT-H [21]|-|85.1|96.6|1193|21|632
self-supervised|OmnMAE ViT-B [25]|IN-1K|80.8|N/A|180|15|87
self-supervised|OmnMAE ViT-L [25]|IN1K+SSv2|84.0|N/A|597|15|305
self-supervised|OmnMAE ViT-H [25]|IN1K+SSv2|84.8|N/A|1192|15|633
MVD|MVD-S (Teacher-B)|IN-1K|80.6|94.7|57|15|22
MVD|MVD-S (Teacher-L)|IN-1K|81.0|94.8|57|15|22
MVD|MVD-B (Teacher-B)|IN-1K|82.7|95.4|180|15|87
MVD|MVD-B (Teacher-L)|IN-1K|83.4|95.8|180|15|87
MVD|MVD-L (Teacher-L)|IN-1K|86.0|96.9|597|15|305
MVD|MVD-L (Teacher-L) †|IN-1K|86.4|97.0|597|15|305
MVD|MVD-H (Teacher-H) †|IN-1K|87.3|97.4|1192|15|633"""

_T4 = """\
supervised|SlowFast R101 [22]|K400|63.1|106|3|53
supervised|TSM-RGB R50 [39]|IN-1K|63.3|62|6|24
supervised|TAM R50 [43]|IN-1K|66.0|99|6|51
supervised|TDN R101 [61]|IN-1K|69.6|198|3|88
supervised|MViTv1-B [18]|-|67.7|455|3|37
supervised|MViTv2-B [38]|K400|70.5|225|3|51
supervised|Uniformer-B [36]|K400|71.2|259|3|50
supervised|TimeSformer-HR [4]|IN-21K|62.5|1703|3|121
supervised|ViViT-L FE [1]|IN21K+K400|65.9|995|12|N/A
supervised|Mformer-B [47]|IN21K+K400|66.5|370|3|109
supervised|Mformer-L [47]|IN21K+K400|68.1|1185|3|382
supervised|VideoSwin-B [42]|IN21K+K400|69.6|321|3|88
supervised|MViTv2-L [38]|IN21K+K400|73.3|2828|3|213
self-supervised|VIMPAC ViT-L [55]|HowTo100M|68.1|N/A|30|307
self-supervised|BEVT Swin-B [63]|IN1K+K400|71.4|321|3|88
self-supervised|MaskFeat MViT-L [67]|K400|74.4|2828|3|218
self-supervised|VideoMAE ViT-S [57]|K400|66.4|57|6|22
self-supervised|VideoMAE ViT-S [57]|-|66.8|57|6|22
self-supervised|VideoMAE ViT-B [57]|K400|69.7|180|6|87
self-supervised|VideoMAE ViT-B [57]|-|70.8|180|6|87
self-supervised|VideoMAE ViT-L [57]|K400|74.0|597|6|305
self-supervised|VideoMAE ViT-L [57]|-|74.3|597|6|305
self-supervised|ST-MAE ViT-L [21]|K400|72.1|598|3|304
self-supervised|ST-MAE ViT-H [21]|K400|74.1|1193|3|632
self-supervised|OmniMAE ViT-B [25]|IN1K+K400|69.0|180|6|87
self-supervised|OmniMAE ViT-L [25]|IN-1K|74.2|597|6|305
self-supervised|OmniMAE ViT-H [25]|IN-1K|75.3|1192|6|632
MVD|MVD-S (Teacher-B)|IN1K+K400|70.7|57|6|22
MVD|MVD-S (Teacher-L)|IN1K+K400|70.9|57|6|22
MVD|MVD-B (Teacher-B)|IN1K+K400|72.5|180|6|87
MVD|MVD-B (Teacher-L)|IN1K+K400|73.7|180|6|87
MVD|MVD-L (Teacher-L)|IN1K+K400|76.1|597|6|305
MVD|MVD-L (Teacher-L) †|IN1K+K400|76.7|597|6|305
MVD|MVD-H (Teacher-H) †|IN1K+K400|77.3|1192|6|633"""

_T5 = """\
VideoMoCo R2+1D [46]|K400|15|78.7|49.2
MemDPC R2D3D [30]|K400|32|86.1|54.5
Vi²CLR S3D [11]|K400|9|89.1|55.7
CORP Slow-R50 [34]|K400|32|93.5|68.0
CVRL Slow-R50 [49]|K400|32|92.9|67.9
CVRL Slow-R152 [49]|K600|328|94.4|70.6
ρBYOL Slow-R50 [23]|K400|32|94.2|72.1
VIMPAC ViT-L [55]|HowTo100M|307|92.7|65.9
VideoMAE ViT-B [57]|K400|87|96.1|73.3
MVD-B (Teacher-B)|IN-1K+K400|87|97.0|76.4
MVD-B (Teacher-L)|IN-1K+K400|87|97.5|79.7"""


def _num(s: str):
    s = s.strip()
    if s in ("N/A", ""):
        return None
    try:
        return float(s) if "." in s else int(s)
    except ValueError:
        return s


# Table 3 (p. 6): Kinetics-400; GFLOPs = per view × views (MACs, spec §8), Param in M.
TABLE3 = [dict(group=g, method=m, extra_data=e, top1=_num(t1), top5=_num(t5), gflops_view=_num(gf),
               views=int(v), params_m=_num(p))
          for g, m, e, t1, t5, gf, v, p in (line.split("|") for line in _T3.splitlines())]
TABLE3_SOURCE = _src(3, 6)

# Table 4 (p. 6): Something-Something V2 (also the data of Fig. 1).
TABLE4 = [dict(group=g, method=m, extra_data=e, top1=_num(t1), gflops_view=_num(gf), views=int(v),
               params_m=_num(p))
          for g, m, e, t1, gf, v, p in (line.split("|") for line in _T4.splitlines())]
TABLE4_SOURCE = _src(4, 6)

# Table 5 (p. 7): UCF101 / HMDB51 transfer.
TABLE5 = [dict(method=m, extra_data=e, params_m=_num(p), ucf101=_num(u), hmdb51=_num(h))
          for m, e, p, u, h in (line.split("|") for line in _T5.splitlines())]
TABLE5_SOURCE = _src(5, 7)

# Table 6 (p. 7): training time on 32 V100, ViT-B; MVD uses an 800-epoch video teacher only (spec §9.13).
TABLE6 = [
    dict(method="VideoMAE", epoch="800", time_h="107", k400=81.0),
    dict(method="VideoMAE", epoch="1600", time_h="214", k400=81.5),
    dict(method="MVD", epoch="(800+) 400", time_h="(107+) 57", k400=81.9),
]
TABLE6_SOURCE = _src(6, 7)

# Table 7 (p. 7): ViT-S students, ViT-B teachers, 300 epochs; SSv2 top-1.
TABLE7 = [
    dict(teachers="image model", reconstruct_pixel=False, ssv2=68.7),
    dict(teachers="image model", reconstruct_pixel=True, ssv2=67.9),
    dict(teachers="image+video models", reconstruct_pixel=False, ssv2=70.1),
    dict(teachers="image+video models", reconstruct_pixel=True, ssv2=69.0),
]
TABLE7_SOURCE = _src(7, 7)

# Table 8 (p. 7): ViT-B; bootstrapped (momentum) teachers vs fixed teachers.
TABLE8 = [
    dict(teacher="momentum encoder", init=False, epoch=800, k400=80.5, ssv2=70.4),
    dict(teacher="momentum encoder", init=True, epoch=800, k400=81.8, ssv2=70.8),
    dict(teacher="fixed image model", init=False, epoch=400, k400=82.3, ssv2=71.4),
    dict(teacher="fixed video model", init=False, epoch=400, k400=82.1, ssv2=71.8),
    dict(teacher="fixed co-teaching", init=False, epoch=400, k400=82.7, ssv2=72.5),
]
TABLE8_SOURCE = _src(8, 7)

# Table 9 (p. 7): ViT-B student, video teacher.
TABLE9 = [
    dict(method="per-token distillation", k400=80.9, ssv2=70.5),
    dict(method="masked reconstruction", k400=82.1, ssv2=71.8),
]
TABLE9_SOURCE = _src(9, 7)

TABLES = {1: (TABLE1, TABLE1_SOURCE), 2: (TABLE2, TABLE2_SOURCE), 3: (TABLE3, TABLE3_SOURCE),
          4: (TABLE4, TABLE4_SOURCE), 5: (TABLE5, TABLE5_SOURCE), 6: (TABLE6, TABLE6_SOURCE),
          7: (TABLE7, TABLE7_SOURCE), 8: (TABLE8, TABLE8_SOURCE), 9: (TABLE9, TABLE9_SOURCE)}


def paper_frame(number: int):
    """Table ``number`` of the paper as a DataFrame with a ``source`` column."""
    import pandas as pd

    rows, source = TABLES[number]
    df = pd.DataFrame(rows)
    df["source"] = source
    return df


def family_of(method: str) -> str:
    """The method family of a table row: ``"VideoMAE ViT-B [57]"`` -> ``"VideoMAE"``, ``"MViTv2-L [38]"``
    -> ``"MViTv2"``, ``"SlowFast R101 [22]"`` -> ``"SlowFast"``, ``"MVD-B (Teacher-L)"`` -> ``"MVD"``."""
    import re

    name = re.sub(r"\s*\[\d+\]", "", method).replace("†", "").strip()
    name = re.sub(r"\s*\(Teacher-.\)", "", name)
    if " ViT-" in name:
        return name.split(" ViT-")[0]
    m = re.match(r"^(.*?)-[SBLH]$", name.split(" ")[0])
    return m.group(1) if m else name.split(" ")[0]


def fig1_families() -> dict[str, list[dict]]:
    """Fig. 1 data from Table 4: method family -> rows (size label, GFLOPs per view × views, top-1),
    ordered by cost. Families with more than one size are lines; MVD keeps the Teacher-L rows of
    S/B/L (the best per size) and H; VideoMAE keeps the K400-pretrained rows (what MVD compares with)."""
    fam: dict[str, list[dict]] = {}
    for r in TABLE4:
        m = r["method"]
        if r["gflops_view"] is None:
            continue
        if m.startswith("MVD"):
            if "Teacher-B" in m or ("L (Teacher-L)" in m and "†" not in m):
                continue
            key = "MVD"
        elif m.startswith("VideoMAE"):
            if r["extra_data"] != "K400":
                continue
            key = "VideoMAE"
        else:
            key = family_of(m)
        fam.setdefault(key, []).append(dict(method=m, gflops=r["gflops_view"] * r["views"], top1=r["top1"],
                                            group=r["group"]))
    for rows in fam.values():
        rows.sort(key=lambda r: r["gflops"])
    return fam


