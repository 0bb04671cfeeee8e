import builtins
import re

import pytest

from river_agent.bench.programs import compile_program
from river_agent.errors import RiverError
from river_agent.prompts import load_prompts


def test_a_prompt_file_with_a_key_twice_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("free: {user: a}\nstaged: {user: b}\ncode: {user: c}\ncode: {user: d}\nops_doc: x\n")
    with pytest.raises(RiverError, match="duplicate key 'code'"):
        load_prompts(str(path))


def _logic_forms():
    from river_agent.rl.data import synth_items

    return [item.logic for item in synth_items(55, 60) if item.logic]


def test_code_prompt_names_every_helper_the_compiled_programs_call():
    system = load_prompts()["code"]["system"]
    allowed = set(dir(builtins)) | {"mean", "append", "sorted", "statistics"}
    missing = set()
    for i, logic in enumerate(_logic_forms()):
        for name in re.findall(r"(?<![.\w])([A-Za-z_]\w*)\(", compile_program(logic, style=i)):
            if name not in allowed and not re.search(rf"\b{name}\b", system):
                missing.add(name)
    assert not missing, f"the code prompt does not name: {sorted(missing)}"
