"""Plugins: discovery through the uva_kit.plugins entry point, isolation of broken ones, the autoload switch."""

from __future__ import annotations

from cli_support import run_cli

from uva_kit import load_spec, plugins

GOOD_PLUGIN = """
    import attrs
    from uva_kit import hookimpl
    from uva_kit.spec import ComponentSpec

    @attrs.frozen
    class ShoutSpec(ComponentSpec):
        volume: int = 3

    class Shout:
        def __init__(self, spec, **context):
            self.spec, self.context = spec, context

    @hookimpl
    def uva_kit_register(registry):
        registry.register("modality", "shout", spec=ShoutSpec, factory=Shout, description="a test modality")
"""

IMPORT_BROKEN_PLUGIN = """
    raise ImportError("this plugin needs libfoo, which is missing")
"""

REGISTER_BROKEN_PLUGIN = """
    from uva_kit import hookimpl

    @hookimpl
    def uva_kit_register(registry):
        registry.register("head", "half_done", spec="x:Y", factory="x:Z")
        raise RuntimeError("failed halfway through registering")
"""

DUPLICATE_PLUGIN = """
    from uva_kit import hookimpl

    @hookimpl
    def uva_kit_register(registry):
        registry.register("encoder", "patch", spec="x:Y", factory="x:Z")
"""


def test_throwaway_distribution_is_discovered_listed_and_buildable(make_plugin_dist, monkeypatch, fresh_registry, tmp_path):
    site = make_plugin_dist("uva-kit-shout", GOOD_PLUGIN, entry_point_name="shout")
    monkeypatch.syspath_prepend(str(site))
    registry = fresh_registry()

    component = registry.get("modality", "shout")
    assert component.provider.plugin == "shout"
    assert component.provider.distribution == "uva-kit-shout" and component.provider.version == "0.3.1"

    spec_file = tmp_path / "with_shout.toml"
    spec_file.write_text('[[modalities]]\ntype = "shout"\nvolume = 11\n')
    spec = load_spec(spec_file)
    built = component.build(spec.modalities[0], width=64)
    assert built.spec.volume == 11 and built.context == {"width": 64}

    listing = run_cli("plugins", pythonpath=site)
    assert listing.returncode == 0, listing.stderr
    assert "shout  [uva-kit-shout 0.3.1]  ok" in listing.stdout
    assert "modality      shout" in listing.stdout


def test_broken_plugins_are_isolated_and_reported(make_plugin_dist, monkeypatch, fresh_registry):
    make_plugin_dist("uva-kit-shout", GOOD_PLUGIN)
    make_plugin_dist("uva-kit-nolib", IMPORT_BROKEN_PLUGIN)
    make_plugin_dist("uva-kit-halfway", REGISTER_BROKEN_PLUGIN)
    site = make_plugin_dist("uva-kit-dupe", DUPLICATE_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    registry = fresh_registry()

    by_name = {r.provider.plugin: r for r in plugins.reports()}
    assert by_name["uva_kit_shout"].ok and registry.get("modality", "shout")
    assert "libfoo" in by_name["uva_kit_nolib"].error and "import failed" in by_name["uva_kit_nolib"].error
    assert "failed halfway" in by_name["uva_kit_halfway"].error
    assert "half_done" not in registry.list("head")  # partial registrations undone
    assert "registered twice" in by_name["uva_kit_dupe"].error and "plugin 'builtin'" in by_name["uva_kit_dupe"].error
    assert registry.get("encoder", "patch").provider.plugin == "builtin"  # the built-in survives

    listing = run_cli("plugins", pythonpath=site)
    assert listing.returncode == 0
    assert "uva_kit_nolib  [uva-kit-nolib 0.3.1]  FAILED" in listing.stdout
    assert "this plugin needs libfoo" in listing.stdout
    assert "uva_kit_shout  [uva-kit-shout 0.3.1]  ok" in listing.stdout
    assert run_cli("plugins", "--failed", pythonpath=site).returncode == 1
    info = run_cli("info", pythonpath=site)
    assert info.returncode == 0 and "3 failed" in info.stdout


def test_autoload_switch_keeps_only_the_builtins(make_plugin_dist, monkeypatch, fresh_registry):
    site = make_plugin_dist("uva-kit-shout", GOOD_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("UVA_KIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    from uva_kit.registry import reload

    registry = reload()
    assert "shout" not in registry.list("modality")
    assert [r.provider.plugin for r in plugins.reports()] == ["builtin"]
    listing = run_cli("plugins", pythonpath=site, env_extra={"UVA_KIT_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "autoload is off" in listing.stdout and "shout" not in listing.stdout


def test_plugins_can_ship_presets(make_plugin_dist, monkeypatch, fresh_registry, tmp_path):
    preset = tmp_path / "shout-preset.toml"
    preset.write_text('name = "from-plugin"\n')
    source = GOOD_PLUGIN + f"""
    @hookimpl
    def uva_kit_presets():
        return {{"shout-preset": {str(preset)!r}}}
"""
    site = make_plugin_dist("uva-kit-shout", source)
    monkeypatch.syspath_prepend(str(site))
    fresh_registry()
    assert load_spec("shout-preset").name == "from-plugin"
