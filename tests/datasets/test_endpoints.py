import pytest

from gnnpt.datasets.endpoints import endpoints
from gnnpt.datasets.registry import DATASETS


@pytest.mark.parametrize("name", ["tox21", "sider", "clintox", "esol", "lipophilicity", "freesolv", "bbbp", "bace"])
def test_every_task_of_a_panel_dataset_says_what_its_score_means(name) -> None:
    tasks = list(DATASETS[name].tasks)
    found = endpoints({"data": {"name": name}, "task_names": tasks})
    assert [e["task"] for e in found] == tasks
    assert all(e["meaning"] and e["units"] and e["direction"] and e["assay"] for e in found)


def test_a_cards_own_endpoints_win_and_unknown_data_has_none() -> None:
    own = [{"task": "y", "meaning": "m", "units": "u", "direction": "d", "assay": "a"}]
    assert endpoints({"data": {"name": "tox21"}, "task_names": ["y"], "endpoints": own}) == own
    assert endpoints({"data": {"name": "my_file"}, "task_names": ["y"]}) == []
    assert [e["task"] for e in endpoints({"data": {"name": "tox21"}, "task_names": ["SR-p53", "mine"]})] == ["SR-p53"]
