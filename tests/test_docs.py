"""The documentation: every public definition documented in Google style (the API pages are
generated from it), its examples run as doctests, the site builds strictly and its navigation
works in a real browser, served by ``kerasmodels docs``, and the README stays a landing page
whose text the site does not repeat."""

from __future__ import annotations

import doctest
import inspect
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from griffe import Docstring, DocstringSectionKind

import kerasmodels as km
from kerasmodels import _LAZY
from tests.conftest import ROOT, free_port, run_cli

PUBLIC = list(_LAZY)
TABLES = {"TRAINING", "COMPRESSION"}  # option tables: documented as attributes, not called
README_LINES = 200


def parsed(obj) -> dict:
    """The Google-style sections of ``obj``'s docstring (as the API pages parse it)."""
    sections: dict = {}
    for section in Docstring(inspect.getdoc(obj) or "", parser="google").parse(warnings=False):
        sections.setdefault(section.kind, []).append(section)
    return sections


def parameter_names(obj) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return [prefix.get(p.kind, "") + p.name
            for p in inspect.signature(target).parameters.values() if p.name != "self"]


def missing_sections(name: str) -> list[str]:
    obj = getattr(km, name)
    sections = parsed(obj)
    missing = []
    if DocstringSectionKind.text not in sections:
        missing.append("a summary")
    described = {p.name for s in sections.get(DocstringSectionKind.parameters, [])
                 for p in s.value}
    for parameter in parameter_names(obj):
        if parameter not in described and parameter.lstrip("*") not in described:
            missing.append(f"Args: {parameter}")
    if not inspect.isclass(obj) and DocstringSectionKind.returns not in sections:
        missing.append("Returns:")
    if DocstringSectionKind.raises not in sections and parameter_names(obj):
        missing.append("Raises:")  # what bad input raises: a function that takes none, none
    if DocstringSectionKind.examples not in sections:
        missing.append("Examples:")
    return missing


def test_every_public_definition_has_args_returns_raises_and_examples():
    """Google style on every function and class of ``kerasmodels.__all__``: a description of
    every parameter (the option tables' help fills those they declare), Returns, Raises (what
    bad input raises; a function without parameters has none) and a runnable example."""
    gaps = {name: missing for name in PUBLIC if name not in TABLES
            and (missing := missing_sections(name))}
    assert not gaps, "\n".join(f"km.{name}: no {', '.join(m)}" for name, m in gaps.items())
    for name in TABLES:
        assert getattr(km, name) and f"kerasmodels.options.{name}" in api_references()


def public_members() -> dict[str, object]:
    """``Class.member`` -> function (a property's getter) for every public method and property
    that kerasmodels defines on a class of ``kerasmodels.__all__`` (the API pages list them)."""
    found = {}
    for name in PUBLIC:
        cls = getattr(km, name)
        if not inspect.isclass(cls):
            continue
        for member in dir(cls):
            raw = inspect.getattr_static(cls, member)
            function = (raw.fget if isinstance(raw, property) else
                        raw.__func__ if isinstance(raw, classmethod | staticmethod) else raw)
            if (not member.startswith("_") and inspect.isfunction(function)
                    and function.__module__.startswith("kerasmodels")):
                found[f"{name}.{member}"] = function
    return found


MEMBERS = public_members()


def missing_member_sections(owner: type, member: str) -> list[str]:
    """A property needs a summary; a method, a summary, every parameter described and what it
    returns (unless it returns None)."""
    raw = inspect.getattr_static(owner, member)
    function = (raw.fget if isinstance(raw, property) else
                raw.__func__ if isinstance(raw, classmethod | staticmethod) else raw)
    sections = parsed(function)
    missing = [] if DocstringSectionKind.text in sections else ["a summary"]
    if isinstance(raw, property):
        return missing
    described = {p.name for s in sections.get(DocstringSectionKind.parameters, [])
                 for p in s.value}
    missing += [f"Args: {p}" for p in parameter_names(function)
                if p != "cls" and p.lstrip("*") not in described]
    returns = inspect.signature(function).return_annotation
    if returns not in (None, "None") and DocstringSectionKind.returns not in sections:
        missing.append("Returns:")
    return missing


def test_every_public_method_and_property_is_documented():
    """The methods and properties of the public classes (``Run``, ``Dataset``,
    ``EdgeModel``, ...) have what the API pages show: a summary, and for a method every
    parameter and what it returns."""
    assert {"Run.predict", "Dataset.from_arrays", "EdgeModel.classify"} <= set(MEMBERS)
    gaps = {name: missing for name in MEMBERS
            if (missing := missing_member_sections(getattr(km, name.split(".")[0]),
                                                   name.split(".")[1]))}
    assert not gaps, "\n".join(f"km.{name}: no {', '.join(m)}" for name, m in gaps.items())


def test_the_checker_finds_an_undocumented_parameter():
    def fit(data, seed=0):
        """Fit.

        Args:
            data: the data.

        Returns:
            Nothing.

        Raises:
            ValueError: never.

        Examples:
            >>> 1
            1
        """

    km.fit_for_test = fit
    try:
        assert missing_sections("fit_for_test") == ["Args: seed"]
    finally:
        del km.fit_for_test

    class Model:
        def predict(self, x, batch_size: int = 8) -> list:
            """Predict.

            Args:
                x: the inputs.
            """

        @property
        def size(self) -> int:
            return 0

    assert missing_member_sections(Model, "predict") == ["Args: batch_size", "Returns:"]
    assert missing_member_sections(Model, "size") == ["a summary"]


def test_option_arguments_are_described_by_their_table():
    """``km.train``'s options read their help from ``TRAINING`` (written once), at runtime and
    on the API page, which applies the same function to the source."""
    doc = inspect.getdoc(km.train)
    for option in km.TRAINING.values():
        assert f"{option.name}: {option.help}"[:60] in " ".join(doc.split()), option.name
    assert "``clusters``: " + km.COMPRESSION["clusters"].help in " ".join(
        inspect.getdoc(km.compress).split())


def api_references() -> list[str]:
    return [line[4:].strip() for page in sorted((ROOT / "docs" / "api").glob("*.md"))
            for line in page.read_text().splitlines() if line.startswith("::: ")]


def test_every_public_name_has_one_api_entry_from_its_module():
    """Adding a name to ``kerasmodels.__all__`` is a row of ``_LAZY``; its API page entry is
    the one consumer this test checks (the others: the lazy import, mypy's imports)."""
    references = api_references()
    wanted = [f"{module}.{name}" for name, module in _LAZY.items()]
    assert sorted(references) == sorted(wanted)


@pytest.fixture(scope="module")
def doctest_globals(cnn_run, tmp_path_factory) -> dict:
    """What the examples may use besides what they import: ``run``, a copy of the session's
    digits CNN in a runs folder of their own (the examples add children and exports to it),
    and a working folder."""
    folder = tmp_path_factory.mktemp("doctest-runs")
    shutil.copytree(cnn_run.path, folder / cnn_run.id)
    return {"run": km.load_run(folder / cnn_run.id), "np": np, "km": km,
            "runs_dir": str(folder)}


WITH_EXAMPLES = [name for name, function in MEMBERS.items() if ">>>" in (function.__doc__ or "")]


@pytest.mark.parametrize("name", PUBLIC + WITH_EXAMPLES)
def test_docstring_examples_run(name, doctest_globals, tmp_path, monkeypatch):
    """Each public definition's examples, and those of the public methods that have one, run
    as doctests (in a folder of their own); an option table's are its module's."""
    import kerasmodels.options

    monkeypatch.chdir(tmp_path)
    obj = (kerasmodels.options if name in TABLES else MEMBERS[name] if name in MEMBERS
           else getattr(km, name))
    text = inspect.getdoc(obj) or ""
    test = doctest.DocTestParser().get_doctest(text, dict(doctest_globals), name, None, 0)
    assert test.examples, f"km.{name} has no example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    output: list[str] = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)


def test_mkdocs_build_strict_fails_on_a_broken_link(tmp_path):
    """The site's build is strict: a page linking to a page that does not exist fails it (the
    suite builds the real site in scripts/test.sh)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](nowhere.md)\n")
    config = (ROOT / "mkdocs.yml").read_text().split("\nnav:")[0]
    config = re.sub(r"(?ms)^  - mkdocstrings:.*?(?=^markdown_extensions:)", "", config)
    (tmp_path / "mkdocs.yml").write_text(config)
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "nowhere.md" in result.stdout + result.stderr


def test_kerasmodels_docs_serves_the_site_and_its_navigation_works(tmp_path):
    """``kerasmodels docs`` (a new process) builds the site strictly and serves it; Chromium
    opens it, follows the navigation to a guide and to an API page, and finds the generated
    reference, the figures rendered from bench-results/ and no request that failed."""
    from tests.test_browser import chromium_page

    port = free_port()
    site = tmp_path / "site"
    server = subprocess.Popen([sys.executable, "-m", "kerasmodels", "docs", "--port", str(port),
                               "--site-dir", str(site), "--no-browser"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:  # the build takes a few seconds, then the server listens
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the docs site never answered"
                time.sleep(0.5)
        with chromium_page() as page:
            failed: list[str] = []
            # a request the next navigation cancels (the favicon, mid-load) is not a failure
            page.on("requestfailed", lambda request: request.failure != "net::ERR_ABORTED"
                    and failed.append(f"{request.failure} {request.url}"))
            page.on("response", lambda response: response.status >= 400 and failed.append(
                f"{response.status} {response.url}"))
            page.goto(url)
            assert "kerasmodels" in page.title()
            page.get_by_role("link", name="Your own model to a phone").first.click()
            page.wait_for_url("**/own-model/")
            assert page.locator("h1").first.inner_text().rstrip("¶") == "Your own model to a phone"
            page.get_by_role("link", name="Benchmarks").first.click()
            page.wait_for_url("**/benchmarks/")
            assert page.locator("text=Measured on").count() > 10
            page.goto(url + "api/training/")
            train = page.locator('[id="kerasmodels.training.train"]')
            assert train.count() == 1
            # the option's help, from TRAINING (the griffe extension), in the generated page
            assert page.locator("text=passes over the training data").count() >= 1
            page.get_by_role("link", name="Export, benchmark and run").first.click()
            page.wait_for_url("**/api/export/")
            assert page.locator("text=EdgeModel").count() >= 1
            assert not failed, failed
        assert (site / "sitemap.xml").is_file()
        offsite = [str(f.relative_to(site)) for f in site.rglob("*.html")
                   if "fonts.googleapis.com" in f.read_text()]
        assert not offsite, f"pages that fetch web fonts: {offsite[:3]}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize(("args", "code", "says"), [
    (("--config", "{tmp}/mkdocs.yml"), 1, "no mkdocs.yml at"),
    (("--port", "0"), 2, "--port must be in 1..65535"),
    (("--address", "localhost:8000"), 2, "--address must be an IP address"),
])
def test_kerasmodels_docs_answers_bad_input_in_one_line(tmp_path, args, code, says):
    """No checkout, a bad port or address: one line, before anything is built."""
    result = run_cli("docs", *(a.format(tmp=tmp_path) for a in args), cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert not (tmp_path / "site").exists()


def readme_text_lines() -> list[str]:
    """The README's written lines: not code, not the figures generated from bench-results/."""
    lines, fenced, generated = [], False, False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if line.startswith("<!-- figures:") or line.startswith("<!-- /figures"):
            generated = line.startswith("<!-- figures:")
            continue
        if not fenced and not generated and len(line.strip()) > 50:
            lines.append(" ".join(line.split()))
    return lines


def test_the_readme_is_a_landing_page_whose_text_the_site_does_not_repeat():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("\n") <= README_LINES
    assert "bash scripts/demo.sh" in readme and "bash scripts/test.sh" in readme
    site = " ".join(" ".join(page.read_text().split())
                    for page in (ROOT / "docs").rglob("*.md"))
    repeated = [line for line in readme_text_lines() if line in site]
    assert not repeated, repeated
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).exists(), link
