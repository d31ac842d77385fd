import keras
import numpy as np
import tensorflow as tf

from medtriage.layers import (
    HIDDEN,
    LAYER_MEANS,
    LAYERS,
    READINGS,
    BertLayer,
    NeighbourVote,
    NumberReadings,
    WordPieceTokenize,
    encode_batch,
)
from medtriage.readings import readings
from training.encoder import (
    embed_texts,
    load_pretrained_encoder,
    load_tokenizer,
    tokenizer_json_path,
)
from training.urgency import build_heads, urgency_inputs


def test_tokenizer_neither_pads_nor_truncates_to_the_shipped_128():
    tok = load_tokenizer(max_tokens=16)
    ids, mask = encode_batch(tok, ["short", "a much longer sentence " * 20])
    assert ids.shape == (2, 16)
    assert mask[0].sum() == 3 and mask[1].sum() == 16  # [CLS] short [SEP]; truncated at 16


def test_embeddings_do_not_depend_on_batch_padding():
    enc, tok = load_pretrained_encoder(), load_tokenizer()
    alone = embed_texts(enc, tok, ["how is gout treated"])
    batched = embed_texts(enc, tok, ["how is gout treated", "a far longer question " * 10])
    assert np.allclose(alone[0], batched[0], atol=1e-5)
    assert np.isclose(np.linalg.norm(alone[0]), 1.0, atol=1e-5)


def test_repeated_texts_are_encoded_once_and_returned_in_place(monkeypatch):
    import training.encoder as encoder_module

    enc, tok = load_pretrained_encoder(), load_tokenizer()
    seen: list[str] = []

    def recording(tok, texts):
        seen.extend(texts)
        return encode_batch(tok, texts)

    monkeypatch.setattr(encoder_module, "encode_batch", recording)
    texts = ["how is gout treated", "is autism inherited", "how is gout treated"]
    out = embed_texts(enc, tok, texts)
    assert sorted(seen) == ["how is gout treated", "is autism inherited"]
    assert np.array_equal(out[0], out[2]) and not np.allclose(out[0], out[1])
    assert np.allclose(out[1], embed_texts(enc, tok, ["is autism inherited"])[0], atol=1e-5)


def test_padding_skipped_by_the_dense_layers_changes_no_real_token(monkeypatch):
    enc, tok = load_pretrained_encoder(), load_tokenizer()
    layers = keras.Model(enc.inputs, [enc.get_layer(f"layer_{i}").output for i in range(LAYERS)])
    texts = ["gout", "how is gout treated", "my dad has a cough and a fever since monday " * 4]
    ids, mask = (tf.constant(a) for a in encode_batch(tok, texts))
    unpadded = [np.asarray(x) for x in layers([ids, mask], training=False)]
    monkeypatch.setattr(BertLayer, "unpad", False)
    padded = [np.asarray(x) for x in layers([ids, mask], training=False)]
    real = np.asarray(mask, bool)
    assert real.sum() < real.size  # the batch is padded: the unpadded path ran
    for a, b in zip(unpadded, padded, strict=True):
        assert np.allclose(a[real], b[real], atol=1e-4)
        assert not a[~real].any()  # padding comes out zero


def test_similar_questions_are_closer_than_unrelated_ones():
    enc, tok = load_pretrained_encoder(), load_tokenizer()
    a, b, c = embed_texts(
        enc, tok, ["How is gout treated?", "What are treatments for gout", "Is autism inherited?"]
    )
    assert a @ b > a @ c + 0.2


def test_string_model_saves_and_reloads_with_the_custom_tokenizer_layer(tmp_path):
    text = keras.Input(shape=(), dtype="string")
    layer = WordPieceTokenize(max_tokens=8)
    layer.set_tokenizer_file(tokenizer_json_path())
    ids, mask = layer(text)
    model = keras.Model(text, {"ids": ids, "mask": mask})
    model.save(tmp_path / "tok.keras")
    again = keras.saving.load_model(tmp_path / "tok.keras")
    out = again(np.array(["hello world", "x"]))
    assert np.asarray(out["ids"]).shape == (2, 4)
    assert np.asarray(out["mask"]).sum() == 4 + 3


def test_number_readings_layer_saves_reloads_and_reads_as_the_pure_function(tmp_path):
    texts = ["my 6 week old has a temp of 38.2", "", "took 30 tylenol an hour ago", "hi 🙂"]
    text = keras.Input(shape=(), dtype="string")
    model = keras.Model(text, NumberReadings(name="readings")(text))
    model.save(tmp_path / "readings.keras")
    again = keras.saving.load_model(tmp_path / "readings.keras")
    out = np.asarray(again(np.array(texts)))
    assert out.shape == (4, READINGS) and out.dtype == np.float32
    assert np.allclose(out, [readings(t) for t in texts])
    assert np.asarray(again(np.array([], dtype=str))).shape == (0, READINGS)


def test_urgency_heads_read_layer_means_and_number_readings():
    texts = ["my 6 week old has a temp of 38.2", "what is gout"]
    x = urgency_inputs(np.zeros((2, LAYER_MEANS)), texts)
    heads = build_heads(n_categories=3, seed=0)
    out = heads(x, training=False)
    assert np.asarray(out["urgency"]).shape == (2, 1)
    assert np.asarray(out["urgency_category"]).shape == (2, 3)
    assert x[1].shape == (2, READINGS) and x[1][1].sum() == 0.0


def test_embedding_cache_keeps_apart_texts_read_at_different_lengths(monkeypatch, tmp_path):
    import training.embed_cache as embed_cache

    monkeypatch.setattr(embed_cache, "CACHE", tmp_path)
    enc = load_pretrained_encoder()
    # The question comes after the first 16 tokens: only the longer reading sees it.
    texts = ["my father has had a cough and a fever since monday and " * 2 + "how is it treated"]
    short = embed_cache.cached_embeddings(enc, load_tokenizer(max_tokens=16), texts, "t", False)
    long = embed_cache.cached_embeddings(enc, load_tokenizer(max_tokens=64), texts, "t", False)
    assert not np.allclose(short, long, atol=1e-3)
    assert len(list(tmp_path.glob("t-*.npy"))) == 2
    again = embed_cache.cached_embeddings(enc, load_tokenizer(max_tokens=16), texts, "t", False)
    assert np.array_equal(short, again) and len(list(tmp_path.glob("t-*.npy"))) == 2


def test_neighbour_vote_moves_probabilities_toward_the_nearest_labels_and_reloads(tmp_path):
    bank = np.eye(HIDDEN, dtype="float32")[:3]  # three messages, labelled 0, 1, 2
    probs_in = keras.Input(shape=(4,))
    emb_in = keras.Input(shape=(HIDDEN,))
    vote = NeighbourVote(3, 4, k=2, temperature=0.1, floor=0.1)
    vote.set_bank(bank, np.array([0, 1, 2]))
    model = keras.Model([probs_in, emb_in], vote([probs_in, emb_in]))
    model.save(tmp_path / "vote.keras")
    again = keras.saving.load_model(tmp_path / "vote.keras")
    probs = np.array([[0.4, 0.3, 0.25, 0.05], [0.4, 0.3, 0.25, 0.05], [0.97, 0.01, 0.01, 0.01]])
    near_2 = bank[2] * 0.9 + bank[0] * 0.1
    emb = np.stack([near_2 / np.linalg.norm(near_2), bank[1], bank[1]])
    out = np.asarray(again([probs.astype("float32"), emb]))
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-6)
    # An unsure head follows the nearest message's label ...
    assert out[0].argmax() == 2 and out[1].argmax() == 1
    # ... a confident one keeps its answer; a label no neighbour has keeps floor x its share.
    assert out[2].argmax() == 0 and out[2, 0] > 0.85
    assert np.isclose(out[1, 3] / out[1, 0], 0.05 / 0.4, rtol=1e-3)
    assert np.allclose(out, np.asarray(model([probs.astype("float32"), emb])))
