"""Keyword spotting from sound: the ``audio:`` loader on folders in Speech Commands' exact layout
(made here), the features a device computes (``features.tflite`` in a process without
TensorFlow) against training's, DS-CNN to int8 and TFLM (asserted on
``scripts/bench_kws.py --quick``), and a word spoken into the Playground through Chromium's
fake microphone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

import kerasmodels as km
from kerasmodels.audio import FeatureParams, read_wav, write_wav
from kerasmodels.data.audio import SILENCE, UNKNOWN
from kerasmodels.errors import DatasetError
from tests.conftest import ROOT, cli, run_quick

DEVICE_PYTHON = ROOT / ".venv-device" / "bin" / "python"
TONES = {"high": 2000.0, "low": 300.0, "mid": 900.0}  # a "word" per frequency


def tone(freq: float, rate: int, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    rs = np.random.RandomState(seed)
    return (0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rs.randn(len(t))).astype("float32")


def speech_commands_folder(root: Path, *, speakers: int = 10, rate: int = 16_000,
                           lists: bool = True) -> Path:
    """A folder in Speech Commands' layout: <word>/<speaker>_nohash_<n>.wav, background noise,
    and the validation and testing lists (the first speakers tested, the next validated)."""
    root.mkdir(parents=True)
    names = []
    for word, freq in TONES.items():
        (root / word).mkdir()
        for s in range(speakers):
            for take in range(2):
                name = f"{word}/{s:08x}_nohash_{take}.wav"
                write_wav(root / name, tone(freq * (1 + 0.02 * s), rate, 0.8, seed=s * 7 + take),
                          rate)
                names.append(name)
    (root / "_background_noise_").mkdir()
    write_wav(root / "_background_noise_" / "white.wav",
              np.random.RandomState(9).uniform(-0.5, 0.5, 3 * 16_000), 16_000)
    if lists:
        (root / "testing_list.txt").write_text(
            "".join(f"{n}\n" for n in names if int(n.split("/")[1][:8], 16) < 2))
        (root / "validation_list.txt").write_text(
            "".join(f"{n}\n" for n in names if int(n.split("/")[1][:8], 16) in (2, 3)))
    return root


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """The cache of computed features, private to the test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("KERASMODELS_DATA_DIR", str(folder))
    return folder


def test_the_lists_decide_the_splits_and_each_speaker_stays_in_one(tmp_path, data_dir):
    root = speech_commands_folder(tmp_path / "sc")
    ds = km.load_dataset(f"audio:{root}", augment=0)
    assert ds.labels == ["high", "low", "mid"] and ds.input_shape == (49, 10, 1)
    # 3 words x 2 speakers x 2 takes tested, as many validated, the other 6 speakers trained
    assert (len(ds.test[0]), len(ds.val[0]), len(ds.train[0])) == (12, 12, 36)
    assert ds.preprocessing == FeatureParams().to_preprocessing()
    again = km.load_dataset(f"audio:{root}", augment=0)  # from the cache: the same arrays
    assert np.array_equal(again.train[0], ds.train[0]) and list(data_dir.rglob("*.npy"))

    unlisted = speech_commands_folder(tmp_path / "unlisted", lists=False)
    from kerasmodels.data.audio import _split, _word_files

    splits = _split(unlisted, _word_files(unlisted), seed=0)
    speakers = {part: {f.name.split("_nohash_")[0] for f in files}
                for part, files in splits.items()}
    assert all(speakers[part] for part in speakers)
    assert not (speakers["train"] & speakers["val"] or speakers["train"] & speakers["test"]
                or speakers["val"] & speakers["test"])


def test_keywords_make_unknown_and_silence_and_training_is_augmented(tmp_path, data_dir):
    root = speech_commands_folder(tmp_path / "sc")
    ds = km.load_dataset(f"audio:{root}", keywords=["high", "low"], augment=2,
                         unknown_percentage=50, silence_percentage=25)
    assert ds.labels == ["high", "low", SILENCE, UNKNOWN]
    counts = np.bincount(ds.train[1], minlength=4)
    # 24 keyword clips trained, unknown 50% of them, silence 25%; each 3 times (2 augmented)
    assert counts.tolist() == [36, 36, 18, 36]
    plain = km.load_dataset(f"audio:{root}", keywords=["high", "low"], augment=0,
                            unknown_percentage=50, silence_percentage=25)
    assert len(ds.test[0]) == len(plain.test[0])  # only training is augmented
    assert not np.allclose(ds.train[0][:len(plain.train[0])], ds.train[0][len(plain.train[0]):
                                                                         2 * len(plain.train[0])])
    # the command line's way of saying it
    trained = cli("train", "--arch", "ds_cnn", "--dataset", f"audio:{root}", "--dataset-option",
                  "keywords=high,low", "--epochs", "1", "--out-dir", str(tmp_path / "runs"),
                  "--json")
    assert trained.returncode == 0, trained.stderr[-2000:]
    run = km.load_run(json.loads(trained.stdout)["path"])
    assert run.record.dataset.labels == ["high", "low", SILENCE, UNKNOWN]
    assert run.record.dataset.preprocessing["kind"] == "audio"


def test_other_rates_are_resampled_to_16_khz(tmp_path):
    for rate in (8_000, 22_050, 44_100):
        write_wav(tmp_path / f"{rate}.wav", tone(1000.0, rate), rate)
        samples = read_wav(tmp_path / f"{rate}.wav")
        assert abs(len(samples) - 16_000) <= 1, rate
        spectrum = np.abs(np.fft.rfft(samples))
        assert abs(np.argmax(spectrum) * 16_000 / len(samples) - 1000) < 5, rate


def write_raw_wav(path: Path, *, channels=1, width=2, rate=16_000, frames=16_000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x10" * (frames * channels * width))
    return path


@pytest.mark.parametrize("bad, message", [
    ("text", r"notes.txt is not a WAV file: word folders hold only \.wav clips"),
    ("renamed", r"fake.wav is not a PCM WAV file .*convert it to 16-bit mono WAV"),
    ("empty", r"empty.wav holds no samples"),
    ("stereo", r"stereo.wav has 2 channels: keyword spotting reads mono"),
    ("8-bit", r"eight.wav holds 8-bit samples: save it as 16-bit PCM"),
    ("one class", r"needs a folder of WAV clips per word, at least two \(found only 'high'\)"),
    ("missing", r"audio folder .* does not exist"),
    ("listed elsewhere", r"testing_list.txt names '../outside.wav', outside"),
])
def test_bad_sound_is_one_clear_line_and_nothing_is_written(tmp_path, data_dir, bad, message):
    root = speech_commands_folder(tmp_path / "sc", speakers=4)
    word = root / "high"
    if bad == "text":
        (word / "notes.txt").write_text("not a sound")
    elif bad == "renamed":
        (word / "fake.wav").write_bytes(b"ID3 this is an mp3, renamed")
    elif bad == "empty":
        write_raw_wav(word / "empty.wav", frames=0)
    elif bad == "stereo":
        write_raw_wav(word / "stereo.wav", channels=2)
    elif bad == "8-bit":
        write_raw_wav(word / "eight.wav", width=1)
    elif bad == "one class":
        for other in ("low", "mid"):
            for f in (root / other).iterdir():
                f.unlink()
    elif bad == "missing":
        root = tmp_path / "nowhere"
    elif bad == "listed elsewhere":
        write_wav(tmp_path / "outside.wav", tone(500.0, 16_000))
        (root / "testing_list.txt").write_text("../outside.wav\n")
    with pytest.raises(DatasetError, match=message):
        km.load_dataset(f"audio:{root}")
    assert not data_dir.exists() or not [p for p in data_dir.rglob("*") if p.is_file()]
    result = cli("train", "--dataset", f"audio:{root}", "--arch", "ds_cnn", "--epochs", "1")
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and re.search(message, result.stderr)


def test_the_playgrounds_sound_input_refuses_bad_sound_in_one_line(tmp_path):
    """What the dashboard's recorder and WAV upload go through (km.sound_input)."""
    from kerasmodels.errors import UploadError

    prep = FeatureParams().to_preprocessing()
    with pytest.raises(UploadError, match=r"is not a PCM WAV file .*convert it to 16-bit mono"):
        km.sound_input(b"ID3 an mp3, renamed", prep)
    stereo = write_raw_wav(tmp_path / "stereo.wav", channels=2).read_bytes()
    with pytest.raises(UploadError, match="has 2 channels"):
        km.sound_input(stereo, prep)
    with pytest.raises(UploadError, match="up to 10 MB"):
        km.sound_input(b"RIFF" + bytes(11 * 2**20), prep)
    with pytest.raises(UploadError, match="takes image, not sound"):
        km.sound_input(stereo, {"kind": "image"})
    # a longer recording: the model hears its loudest second, the word between the silences
    word = tone(440.0, 16_000)
    spoken = np.concatenate([np.zeros(16_000, "float32"), word, np.zeros(8_000, "float32")])
    features, clip = km.sound_input(spoken, prep)
    assert features.shape == (49, 10, 1) and np.array_equal(clip, word)


def test_ds_cnn_is_the_mlperf_tiny_reference():
    """MLPerf Tiny's keyword spotting reference: 24,908 parameters on 49x10 MFCCs, 12 classes."""
    model = km.build_model("ds_cnn", input_shape=(49, 10, 1), num_classes=12)
    assert model.count_params() == 24_908
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("DepthwiseConv2D") == 4 and kinds.count("Conv2D") == 5
    assert kinds.count("BatchNormalization") == 9


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> dict:
    """``scripts/bench_kws.py --quick``: DS-CNN on the built-in speech set, kept for the tests."""
    folder = tmp_path_factory.mktemp("kws")
    return run_quick("kws", folder / "kws.json", "--runs-dir", str(folder / "runs"))


def test_keyword_spotting_reaches_its_targets_on_every_runtime(bench):
    assert bench["params"] == bench["reference"]["params"] == 24_908
    assert bench["keras_test_accuracy"] >= 0.90
    assert abs(bench["int8_minus_keras_pp"]) <= 1.0
    assert bench["tflm_litert_agreement"] >= 0.99
    assert 0 < bench["micro_arena_bytes"] < 64 * 1024
    assert bench["micro_flash_bytes"] < bench["reference"]["int8_kb"] * 1024
    assert bench["wav_int8_accuracy"] >= 0.90 and bench["wav_keywords"] >= 100
    assert {"litert int8", "tflm int8", "features (1 s of sound)"} <= set(bench["p50_ms"])
    assert "avx2" in bench["machine"]["cpu_flags"] or bench["machine"]["cpu_flags"]


TASK_LIBRARY_HEARS = """
import json, sys
from tflite_support.task import audio
classifier = audio.AudioClassifier.create_from_file(sys.argv[1])
found = []
for name in sys.argv[2:]:
    clip = audio.TensorAudio.create_from_wav_file(name, classifier.required_input_buffer_size)
    found.append(classifier.classify(clip).classifications[0].categories[0].category_name)
print(json.dumps({"found": found, "rate": classifier.required_audio_format.sample_rate}))
"""
MEDIAPIPE_HEARS = """
import json, sys, wave
import numpy as np
from mediapipe.tasks import python as tasks
from mediapipe.tasks.python import audio
from mediapipe.tasks.python.components.containers.audio_data import AudioData
classifier = audio.AudioClassifier.create_from_options(audio.AudioClassifierOptions(
    base_options=tasks.BaseOptions(model_asset_path=sys.argv[1]), max_results=1))
found = []
for name in sys.argv[2:]:
    with wave.open(name) as sound:
        rate = sound.getframerate()
        samples = np.frombuffer(sound.readframes(sound.getnframes()), np.int16)
    heard = classifier.classify(AudioData.create_from_array(samples / 32768.0, rate))
    found.append(heard[0].classifications[0].categories[0].category_name)
classifier.close()
print(json.dumps({"found": found, "rate": 0}))
"""


@pytest.mark.parametrize("name", ["task library", "mediapipe"])
def test_phone_audio_classifiers_hear_the_test_speakers_in_the_audio_export(bench, name):
    """The Task Library's and MediaPipe's AudioClassifier open ``tflite-audio`` (sound in, its
    features inside, audio metadata) and name the words of WAV files of the test speakers,
    the unknown words among them."""
    from kerasmodels.data.speech import speech_folder
    from tests.test_device_clients import CLIENTS

    run = km.load_run(bench["run"])
    model = run.path / "exports" / "tflite-audio.tflite"
    root = speech_folder()
    tested = (root / "testing_list.txt").read_text().split()[::25]
    labels = run.record.dataset.labels
    expected = [n.split("/")[0] if n.split("/")[0] in labels else UNKNOWN for n in tested]
    python, _, setup = CLIENTS[name]
    assert python.is_file(), setup
    script = TASK_LIBRARY_HEARS if name == "task library" else MEDIAPIPE_HEARS
    done = subprocess.run([str(python), "-c", script, str(model),
                           *(str(root / n) for n in tested)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["rate"] in (0, run.record.dataset.preprocessing["sample_rate"])
    right = np.mean([a == b for a, b in zip(answer["found"], expected, strict=True)])
    assert len(tested) >= 20 and UNKNOWN in expected and right >= 0.85, (answer, expected)
    record = json.loads((run.path / "exports" / "exports.json").read_text())
    assert record["artifacts"]["tflite-audio"]["parity"]["top1_agreement"] >= 0.98


def test_a_device_computes_training_features_from_wav_files_without_tensorflow(bench):
    """The test speakers' WAV files through EdgeModel in .venv-device (numpy and LiteRT only):
    ``features.tflite`` gives the features training computed, and the words are heard."""
    from kerasmodels.data.speech import speech_folder

    run = km.load_run(bench["run"])
    root = speech_folder()
    tested = (root / "testing_list.txt").read_text().split()
    known = [n for n in tested if n.split("/")[0] in run.record.dataset.labels]
    # the test split holds the keywords' clips first, in the folder's sorted order
    assert known == sorted(known, key=lambda n: (n.split("/")[0], n))
    picked = list(range(0, len(known), 10))  # every word
    keywords = [known[i] for i in picked]
    script = f"""
import json, sys
import numpy as np
from kerasmodels.edge import EdgeModel
model = EdgeModel({str(run.path / "exports" / "tflite-int8.tflite")!r})
files = [{str(root)!r} + "/" + n for n in {keywords!r}]
features = model.features(files)
np.save(sys.argv[1], features)
# the microcontroller's file, its labels and features.tflite one folder up
micro = EdgeModel({str(run.path / "exports" / "tflite-micro" / "model.tflite")!r})
print(json.dumps({{"said": model.classify(files), "micro": micro.classify(files),
                  "tf": "tensorflow" in sys.modules}}))
"""
    out = Path(bench["run"]) / "device-features.npy"
    done = subprocess.run([str(DEVICE_PYTHON), "-c", script, str(out)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["tf"] is False
    said = [s == n.split("/")[0] for s, n in zip(answer["said"], keywords, strict=True)]
    assert np.mean(said) >= 0.9
    assert np.mean(np.array(answer["micro"]) == np.array(answer["said"])) >= 0.9
    test_x = run.dataset().test[0][picked]
    features = np.load(out)
    assert np.abs(features - test_x).max() <= 1e-3 * np.abs(test_x).max()


def test_a_word_spoken_into_the_playground_is_heard_by_every_variant(bench, tmp_path):
    """Chromium's fake microphone plays a test speaker's "yes" into the Playground's recorder;
    the page shows the clip and its features, and every variant (Keras, LiteRT float32 and
    int8, TFLM) answers. A WAV upload takes the same way."""
    from playwright.sync_api import sync_playwright

    from kerasmodels.data.speech import speech_folder
    from tests.test_browser import CHROMIUM, SHOTS_ENV, heading, start_dashboard

    run_id = Path(bench["run"]).name
    root = speech_folder()
    word = next(n for n in (root / "testing_list.txt").read_text().split()
                if n.startswith("yes/"))
    spoken = tmp_path / "spoken.wav"  # the word, then a second of silence, as a person says it
    write_wav(spoken, np.concatenate([read_wav(root / word), np.zeros(16_000, "float32")]))
    process, url = start_dashboard(Path(bench["run"]).parent)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={spoken}"])
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.context.grant_permissions(["microphone"], origin=url)
            page.set_default_timeout(120_000)
            page.goto(f"{url}/playground?run={run_id}")
            heading(page, "Playground").wait_for()
            page.get_by_text("Record a word").click()
            page.get_by_role("button", name="Record").click()
            page.wait_for_timeout(2500)
            page.get_by_role("button", name="Stop recording").click()
            answer = page.get_by_text(re.compile(r"Prediction: \S+"))
            answer.wait_for()
            assert "Prediction: yes" in answer.inner_text()
            page.get_by_text(re.compile(r"what the model sees: mfcc \(49 frames x 10\)")).wait_for()
            shots = Path(os.environ.get(SHOTS_ENV) or tmp_path)
            page.wait_for_timeout(1500)  # let the charts finish drawing
            page.screenshot(path=str(shots / "playground-speech.png"), full_page=True)
            assert (shots / "playground-speech.png").stat().st_size > 10_000
            variants = page.locator("[role=gridcell]", has_text=re.compile(r"^tflite-micro"))
            variants.first.wait_for(state="attached")

            page.get_by_text("Upload a WAV").click()
            page.locator("input[type=file]").set_input_files(str(root / word))
            page.get_by_text(re.compile(r"Prediction: yes")).wait_for()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
