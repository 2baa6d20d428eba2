"""The lesion-pretrained CT classifier (``ct_lesion_cnn3d``): a unet3d segmentation model's weights
load into it whole, its output depends on the volume only through the most lesion-like voxel, and
a classification run started from those weights with every layer but the head frozen trains the
head alone."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from builder.graph import compile_graph, validate
from builder.graph.templates import get_template, template_config
from pipelines.datasets.ingest import ingest
from pipelines.datasets.samples import SAMPLES, write_chest_ct_zip
from pipelines.training.config import parse_config
from pipelines.training.data import cached_loaders
from pipelines.training.engine import fit
from pipelines.training.finetune import all_but, load_initial_weights
from pipelines.training.session import prepare


def sized(template_id: str, shape: tuple[int, int, int]) -> dict[str, Any]:
    doc = get_template(template_id)
    node = next(n for n in doc["nodes"] if n["type"] == "volume_input")
    node["params"].update(depth=shape[0], height=shape[1], width=shape[2])
    return doc


def trained_unet3d(shape: tuple[int, int, int]) -> torch.nn.Module:
    torch.manual_seed(3)
    unet = compile_graph(sized("unet3d", shape))
    with torch.no_grad():  # weights unlike a fresh initialisation, and batch norm statistics of its own
        for tensor in unet.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor) * 0.1)
    return unet.eval()


def test_unet3d_weights_load_whole_and_the_head_reads_the_most_lesion_like_voxel() -> None:
    shape = (8, 16, 16)
    unet = trained_unet3d(shape)
    doc = sized("ct_lesion_cnn3d", shape)
    assert validate(doc, batch_size=2).ok
    classifier = compile_graph(doc).eval()
    found = load_initial_weights(classifier, unet.state_dict())
    assert found["skipped"] == []  # every tensor of the segmentation model is used
    assert found["missing"] == ["logits.bias", "logits.weight"]  # only the new head starts afresh

    x = torch.rand(3, 1, *shape)
    with torch.no_grad():
        lesion = torch.log_softmax(unet(x), dim=1)  # (N, 2, D, H, W)
        strongest = lesion.flatten(2).amax(dim=2)  # (N, 2): the best voxel of each class
        expected = strongest @ classifier.logits.weight.T + classifier.logits.bias
        torch.testing.assert_close(classifier(x), expected)
        # A voxel made more lesion-like than any other moves the output, the rest does not.
        assert not torch.allclose(strongest[0], strongest[1])


def test_a_classification_run_from_a_segmentation_model_trains_only_the_head(tmp_path: Path) -> None:
    shape = (8, 16, 16)
    options = {**SAMPLES["chest_ct"]["options"], "volume_shape": list(shape),  # type: ignore[dict-item]
               "val_fraction": 0.25, "test_fraction": 0.25}
    result = ingest("ct_dicom", write_chest_ct_zip(tmp_path / "set", patients=8), "chest_ct.zip", tmp_path / "work",
                    options)
    assert result.task == "classification"
    start = {k: v.clone() for k, v in trained_unet3d(shape).state_dict().items()}
    classifier = compile_graph(sized("ct_lesion_cnn3d", shape))
    backbone = all_but(classifier, "logits")
    assert "mask_logits" in backbone and "enc1_conv1" in backbone and "logits" not in backbone
    config = parse_config({**template_config("ct_lesion_cnn3d"), "task": "classification", "epochs": 2,
                           "batch_size": 2, "freeze": backbone, "device": {"kind": "cpu"}})
    assert (config.optimizer.name, config.optimizer.lr) == ("adam", 1e-2)  # a fresh head, not FINETUNE_LR
    data = cached_loaders(tmp_path / "work" / "cache", batch_size=2, seed=0, classes=2)
    # The head as the run starts: the engine seeds and initialises the same way every time.
    initial = prepare(compile_graph(sized("ct_lesion_cnn3d", shape)), data, config, device=torch.device("cpu"),
                      layer_flops=None, emit=lambda _event: None, ddp=None, init_weights=start, freeze=backbone)
    head = {k: v.clone() for k, v in initial.inner.state_dict().items() if k.startswith("logits.")}
    fitted = fit(classifier, data, config, device=torch.device("cpu"), init_weights=start)
    assert fitted.epochs_run == 2 and "accuracy" in fitted.test_metrics
    after = classifier.state_dict()
    for name, tensor in start.items():
        if name.endswith(("weight", "bias")):  # parameters; batch norm's running statistics may move
            assert torch.equal(after[name], tensor), name
    assert not torch.equal(after["logits.weight"], head["logits.weight"])  # the head learnt
