"""runtime.lazy_sdk_types: the SDKs' type packages load only what is used, and anything asked still resolves.

Each check runs in a fresh interpreter: this one has imported the SDKs already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

DEFER = "from runtime.lazy_sdk_types import defer_sdk_type_imports\ndefer_sdk_type_imports()\n"


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", DEFER + textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_sdks_loads_a_few_of_their_models_not_all():
    loaded = run("""
        import sys
        import openai, telnyx
        telnyx.AsyncTelnyx(api_key="k", base_url="http://127.0.0.1:9/v2").calls.actions
        openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1").chat.completions
        print(sum(name.startswith(("telnyx.types", "openai.types")) for name in sys.modules))
    """)
    everything = subprocess.run(
        [sys.executable, "-c", "import sys, openai, telnyx; print(len(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(loaded) < int(everything) / 5


def test_a_model_asked_of_the_package_is_the_one_its_module_defines():
    out = run("""
        import telnyx, openai
        from telnyx.types import call_dial_params
        from telnyx.types import CallDialParams
        from openai.types.chat import ChatCompletionChunk
        assert CallDialParams is call_dial_params.CallDialParams
        assert telnyx.types.CallDialParams is CallDialParams
        assert openai.types.chat.ChatCompletionChunk is ChatCompletionChunk
        print(len(dir(telnyx.types)) < 100)
    """)
    assert out == "True"


def test_a_name_only_the_real_init_provides_loads_the_whole_package():
    # EventNode is cyclic: the package's __init__ rebuilds it once every model is imported.
    out = run("""
        import telnyx
        node = telnyx.types.EventNode
        print(len(dir(telnyx.types)) > 1000, node.__pydantic_complete__)
    """)
    assert out == "True True"


def test_a_name_the_package_does_not_have_is_an_attribute_error():
    out = run("""
        import telnyx
        try:
            telnyx.types.NoSuchModel
        except AttributeError as error:
            print("AttributeError", error)
        print(hasattr(telnyx.types, "__wrapped__"))
    """)
    assert out.startswith("AttributeError") and out.endswith("False")


def test_the_worker_and_the_api_import_with_the_deferral():
    assert run("import worker, api.app; print('ok')") == "ok"
