"""Shape families through the layers above geometry: detector symmetries, conditions, data sets,
training and evaluation guards, error measures, the command line."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import wideshot
from wideshot.cli import main
from wideshot.data.dataset import DiffractionDataset
from wideshot.data.generate import GenerationPlan, generate_dataset
from wideshot.geometry import SHAPE_FAMILIES, SHAPE_NAMES, random_quaternions
from wideshot.models.metrics import error_table, parameter_spans
from wideshot.physics import Absorption, RefractiveIndex
from wideshot.physics.conditions import Conditions
from wideshot.physics.material import describe_material, material_from_description, parse_material
from wideshot.physics.symmetry import (
    DETECTOR_SYMMETRIES,
    transform_images,
    transform_quaternions,
    untransform_quaternions,
)


@pytest.mark.parametrize("family", SHAPE_FAMILIES.values(), ids=SHAPE_NAMES)
def test_every_view_of_every_family_is_the_simulation_of_its_mapped_label(family):
    """The simulator is the reference: the turned/mirrored image of a particle must be the image
    of the particle with the mapped label, for the family's own mirror plane."""
    quaternion = random_quaternions(1, 11)[0]
    parameter = family.default_parameter()
    image = torch.from_numpy(wideshot.simulate(70.0, quaternion, shape=family.name,
                                               shape_parameter=parameter))
    names = list(DETECTOR_SYMMETRIES)
    mapped = np.stack([transform_quaternions(quaternion, name, family.name) for name in names])
    simulated = wideshot.simulate(70.0, mapped, shape=family.name, shape_parameter=parameter)
    for index, name in enumerate(names):
        np.testing.assert_allclose(transform_images(image, name).numpy()[0], simulated[index],
                                   atol=2e-6, err_msg=name)
        back = untransform_quaternions(mapped[index], name, family.name)
        assert wideshot.geometry.misorientation_deg(back, quaternion, family.name) < 1e-6


def test_the_icosahedron_mirror_map_is_wrong_for_the_decahedron():
    """The test above can fail: the decahedron is not symmetric under x → −x."""
    quaternion = random_quaternions(1, 5)[0]
    image = torch.from_numpy(wideshot.simulate(70.0, quaternion, shape="decahedron",
                                               shape_parameter=0.8))
    wrong = transform_quaternions(quaternion, "mirror-x", "icosahedron")
    simulated = wideshot.simulate(70.0, wrong, shape="decahedron", shape_parameter=0.8)
    assert np.abs(transform_images(image, "mirror-x").numpy()[0] - simulated[0]).max() > 0.05


def test_shape_lists_broadcast_against_one_particle_and_mismatches_are_named():
    images = wideshot.simulate(90.0, [1, 0, 0, 0], shape=["sphere", "octahedral"],
                               shape_parameter=[math.nan, 1.0])
    np.testing.assert_array_equal(images[1], wideshot.simulate(90.0, [1, 0, 0, 0],
                                                               shape="octahedral",
                                                               shape_parameter=1.0)[0])
    with pytest.raises(ValueError, match="radius_nm 2, quaternion 1, shape 3"):
        wideshot.simulate([40.0, 50.0], [1, 0, 0, 0], shape=["sphere"] * 3)
    with pytest.raises(ValueError, match=r"shape_parameter\[1\]"):
        wideshot.simulate(40.0, [1, 0, 0, 0], shape=["sphere", "decahedron"],
                          shape_parameter=[math.nan, 3.0])
    with pytest.raises(ValueError, match="quaternion"):
        wideshot.simulate(40.0, [math.nan, 0, 0, 1], shape="sphere")


def test_conditions_round_trip_and_materials_from_text():
    conditions = Conditions(material=RefractiveIndex(1 - 0.11 + 0.079j),
                            radius_range_nm=(20, 250))
    again = Conditions.from_dict(conditions.as_dict())
    assert again == conditions and again.radius_range_nm == (20.0, 250.0)
    assert Conditions.from_dict({}) == Conditions()  # files and cards without conditions
    for material in (Absorption(), Absorption(math.inf), RefractiveIndex(0.9 + 0.05j)):
        assert material_from_description(describe_material(material)) == material
    assert parse_material("absorption:20") == Absorption(20.0)
    assert parse_material("born") == Absorption(math.inf)
    assert parse_material("index:0.11,0.079") == RefractiveIndex(complex(0.89, 0.079))
    for bad, words in (("gold", "unknown material 'gold'"), ("absorption:x", "absorption:x"),
                       ("index:1", "index:1")):
        with pytest.raises(ValueError, match=words):
            parse_material(bad)
    with pytest.raises(ValueError, match="0 < low < high"):
        Conditions(radius_range_nm=(100, 50))


def test_reconstruct_re_simulates_under_the_models_conditions():
    """The misfit of the same answer changes with the conditions it is re-simulated under."""
    image = wideshot.simulate(80.0, [0.9, 0.1, 0.3, 0.2])
    spec = wideshot.reconstruct(image, views=1)
    born = wideshot.reconstruct(image, views=1,
                                conditions=Conditions(material=Absorption(math.inf)))
    np.testing.assert_array_equal(spec["radius_nm"], born["radius_nm"])
    assert born["misfit"][0] > spec["misfit"][0] + 0.01


def test_shipped_model_records_its_conditions():
    from wideshot.training.lookup import load_model, model_conditions

    _, description = load_model("default")
    assert model_conditions(description) == Conditions()


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory):
    plan = GenerationPlan(n_samples=10, seed=1, shapes=SHAPE_NAMES, validation_fraction=0.2)
    return generate_dataset(tmp_path_factory.mktemp("mixed") / "mixed.h5", plan, workers=1,
                            progress=False)


def test_icosahedron_networks_refuse_families_they_do_not_know(mixed_file, tmp_path):
    from wideshot.evaluation.report import evaluate
    from wideshot.training import TrainingConfig, train

    with pytest.raises(ValueError, match="does not know"):
        DiffractionDataset(mixed_file).require_shapes(("icosahedron",))
    DiffractionDataset(mixed_file).require_shapes(SHAPE_NAMES)
    config = TrainingConfig(train=mixed_file, epochs=1, batch_size=4,
                            model_options={"width": 4, "depth": [1, 1, 1, 1]})
    with pytest.raises(ValueError, match="--shapes"):
        train(config, tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="does not know"):
        evaluate(torch.nn.Identity(), mixed_file, tmp_path / "evaluation", progress=False)


def test_error_measures_per_family():
    rng = np.random.default_rng(0)
    true_q = random_quaternions(50, rng)
    radius = rng.uniform(30, 160, 50)
    turn = np.array([math.cos(math.radians(1)), math.sin(math.radians(1)), 0, 0])  # 2° about x
    predicted = wideshot.geometry.quaternion_multiply(true_q, turn)
    for name in ("decahedron", "octahedral", "twinned-tetrahedron"):
        group = SHAPE_FAMILIES[name].group
        equivalent = wideshot.geometry.quaternion_multiply(predicted, group.elements[-1])
        errors = error_table(equivalent, radius + 1.3, true_q, radius, shape=name)
        np.testing.assert_allclose(errors["misorientation_deg"], 2.0, atol=1e-9)
        np.testing.assert_allclose(errors["radius_error_nm"], 1.3, atol=1e-9)
        assert np.all(np.isfinite(errors["mean"]))
        np.testing.assert_allclose(parameter_spans(shape=name)[:4], group.domain.spans)
    sphere = error_table(true_q, radius + 13.0, [[1, 0, 0, 0]] * 50, radius, shape="sphere")
    assert np.all(np.isnan(sphere["misorientation_deg"])) and np.all(np.isnan(sphere["w"]))
    np.testing.assert_allclose(sphere["mean"], 0.1)  # the radius alone: 13 / 130



def test_simulate_command_takes_shapes(tmp_path, capsys, run_failing):
    out = tmp_path / "d.npy"
    assert main(["simulate", "--shape", "decahedron", "--shape-parameter", "0.8",
                 "--radius-nm", "60", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), wideshot.simulate(60.0, [1, 0, 0, 0],
                                                                  shape="decahedron",
                                                                  shape_parameter=0.8)[0])
    capsys.readouterr()
    assert "choose one of icosahedron, decahedron" in run_failing(
        ["simulate", "--shape", "cube", "--out", str(out)])
    assert "no shape parameter" in run_failing(
        ["simulate", "--shape", "sphere", "--shape-parameter", "1", "--out", str(out)])
    assert "[0.4, 1.6]" in run_failing(
        ["simulate", "--shape", "decahedron", "--shape-parameter", "2", "--out", str(out)])


def test_generate_command_records_shapes_and_conditions(tmp_path, capsys, run_failing):
    from wideshot.data.hdf5 import read_attributes

    out = tmp_path / "g.h5"
    assert main(["generate", "--n", "4", "--shapes", "sphere,octahedral", "--shape-weights",
                 "1,3", "--radius-range", "40,60", "--wavelength-nm", "10", "--material",
                 "silver-91ev", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    attributes = read_attributes(out)
    assert attributes["shapes"] == ["sphere", "octahedral"]
    assert attributes["shape_weights"] == [0.25, 0.75]
    conditions = Conditions.from_dict(attributes)
    assert conditions.radius_range_nm == (40.0, 60.0)
    assert conditions.config.wavelength_nm == 10.0
    assert conditions.material == RefractiveIndex(1 - 0.110 + 0.079j)
    capsys.readouterr()
    for argv, words in (
            (["--shapes", "cube"], "unknown shape family 'cube'"),
            (["--shapes", "sphere", "--shape-weights", "1,2"], "1 non-negative"),
            (["--radius-range", "60"], "radius_range_nm"),
            (["--material", "gold"], "unknown material"),
            (["--wavelength-nm", "-1"], "--wavelength-nm"),
            (["--preset", "paper-test", "--shapes", "sphere"], "--shapes")):
        extra = [] if "--preset" in argv else ["--n", "2"]
        message = run_failing(["generate", *extra, *argv, "--out", str(tmp_path / "x.h5")])
        assert words in message, (argv, message)


def test_frames_at_another_wavelength_than_the_models_are_refused(tmp_path, run_failing):
    np.save(tmp_path / "flat.npy", np.ones((64, 64)))
    geometry = "distance_mm=20,pixel_size_um=150,wavelength_nm=7"
    message = run_failing(["reconstruct", str(tmp_path / "flat.npy"), "--out",
                           str(tmp_path / "out"), "--quiet", "--geometry", geometry])
    assert "7 nm" in message and "13.5 nm" in message and "--wavelength-nm" in message
    assert not (tmp_path / "out" / "reconstruction.csv").exists()


def test_shape_parameter_error_is_relative_to_the_family_range():
    q = random_quaternions(3, 2)
    radius = np.array([50.0, 60.0, 70.0])
    errors = error_table(q, radius, q, radius, shape="decahedron",
                         pred_shape_parameter=[0.5, 1.0, 1.6], true_shape_parameter=[0.5, 0.4, 1.3])
    np.testing.assert_allclose(errors["shape_parameter"], [0.0, 0.5, 0.25])  # span 1.2
    np.testing.assert_allclose(errors["shape_parameter_error"], [0.0, 0.6, 0.3])
    np.testing.assert_allclose(errors["mean"], 0.0, atol=1e-12)  # the paper's five only
    with pytest.raises(ValueError, match="no shape parameter"):
        error_table(q, radius, q, radius, pred_shape_parameter=[1, 1, 1],
                    true_shape_parameter=[1, 1, 1])
    with pytest.raises(ValueError, match="both"):
        error_table(q, radius, q, radius, shape="octahedral", pred_shape_parameter=[1, 1, 1])


@pytest.mark.parametrize("attenuation", [0.0, 1 / 12.5, -1j * 0.4654 * (-0.110 + 0.079j)])
def test_sphere_quadrature_is_converged(attenuation, monkeypatch):
    """Twice the Gauss–Legendre nodes change the sphere's far field only at round-off."""
    from wideshot.physics import KGridDetector, sphere_amplitude
    from wideshot.physics import sphere_msft

    grid = KGridDetector()
    q = torch.as_tensor(grid.q[grid.illuminated])
    radii = torch.tensor([30.0, 160.0, 250.0], dtype=torch.float64)
    default = sphere_amplitude(radii, q, attenuation)
    nodes = sphere_msft.quadrature_nodes
    monkeypatch.setattr(sphere_msft, "quadrature_nodes", lambda *args: 2 * nodes(*args))
    doubled = sphere_amplitude(radii, q, attenuation)
    relative = ((default - doubled).abs().amax(1) / doubled.abs().amax(1)).max()
    assert relative < 1e-12
