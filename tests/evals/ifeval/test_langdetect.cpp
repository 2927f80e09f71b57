// Tests of the langdetect port: Python's random module, str.isupper, and detect_langs against Python langdetect itself.
#include "evals/ifeval/langdetect.h"
#include "evals/ifeval/py_random.h"
#include "evals/ifeval/py_unicode_case.h"

#include "core/error.h"
#include "evals/ifeval/ifeval_lang.h"
#include "evals/ifeval/ifeval_text.h"
#include "tests/common/test_paths.h"
#include "tests/evals/ifeval/langdetect_reference.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using nlohmann::json;
using packbench::evals::PyRandom;
using packbench::evals::langdetect::Detector;
using packbench::testing::LangdetectReference;

// ---------------------------------------------------------------- Python's random and str.isupper

TEST(PyRandom, SameNumbersAsPython) {
  PB_REQUIRE_LANGDETECT_PYTHON(python);
  // Each seed: 3 random(), getrandbits(k) for k = 1..32, _randbelow(n) for a few n (choice's
  // index), then 7 gauss() calls interleaved with _randbelow(1000) (the pattern of langdetect's
  // trials, where every other gauss() is served from the cached value).
  const std::string script =
      "import json, random\n"
      "out = []\n"
      "for seed in [0, 1, 42, 2**32 + 5, 2**63 + 12345]:\n"
      "    r = random.Random()\n"
      "    r.seed(seed)\n"
      "    v = [r.random() for _ in range(3)]\n"
      "    v += [r.getrandbits(k) for k in range(1, 33)]\n"
      "    v += [r._randbelow(n) for n in [1, 2, 3, 7, 100, 1000, 65537, 2**31 + 11, 2**32 - 1]]\n"
      "    for _ in range(7):\n"
      "        v.append(r.gauss(0.0, 1.0))\n"
      "        v.append(r._randbelow(1000))\n"
      "    out.append(v)\n"
      "print(json.dumps(out))\n";
  json want = packbench::testing::run_python_json(python, script, "");
  const uint64_t seeds[] = {0, 1, 42, (uint64_t(1) << 32) + 5, (uint64_t(1) << 63) + 12345};
  ASSERT_EQ(want.size(), 5u);
  for (size_t s = 0; s < 5; ++s) {
    PyRandom r(seeds[s]);
    const json& v = want[s];
    size_t k = 0;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(r.random(), v[k++].get<double>()) << "seed " << seeds[s];
    for (int bits = 1; bits <= 32; ++bits) EXPECT_EQ(r.getrandbits(bits), v[k++].get<uint64_t>()) << bits;
    for (uint64_t n : {1ull, 2ull, 3ull, 7ull, 100ull, 1000ull, 65537ull, (1ull << 31) + 11, (1ull << 32) - 1})
      EXPECT_EQ(r.randbelow(n), v[k++].get<uint64_t>()) << n;
    for (int i = 0; i < 7; ++i) {
      EXPECT_EQ(r.gauss(0.0, 1.0), v[k++].get<double>()) << "gauss " << i;
      EXPECT_EQ(r.randbelow(1000), v[k++].get<uint64_t>());
    }
  }
}

TEST(PyUnicodeCase, IsupperOfEveryCodePointAsPython) {
  PB_REQUIRE_LANGDETECT_PYTHON(python);
  std::string path = packbench::testing::temp_dir("py_isupper") + "/upper.txt";
  std::string out;
  int rc = packbench::testing::run_command(
      "'" + python + "' -c \"import sys; sys.stdout.write(''.join('1' if chr(c).isupper() else '0' for c in range(0x110000)))\" > '" +
          path + "'",
      &out);
  ASSERT_EQ(rc, 0) << out;
  std::ifstream in(path, std::ios::binary);
  std::string flags((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(flags.size(), 0x110000u);
  int differ = 0;
  for (char32_t c = 0; c < 0x110000; ++c) {
    bool want = flags[c] == '1';
    if (packbench::evals::py_char_isupper(c) != want && ++differ <= 10) ADD_FAILURE() << "U+" << std::hex << uint32_t(c);
  }
  EXPECT_EQ(differ, 0);
}

// ---------------------------------------------------------------- the detector

namespace {

// Texts across scripts and lengths, with the cases langdetect treats specially.
std::vector<std::string> varied_texts() {
  const std::vector<std::string> sentences = {
      "The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
      "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde.",
      "El rápido zorro marrón salta sobre el perro perezoso mientras el granjero mira desde el porche.",
      "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer von der Veranda zusieht.",
      "A rápida raposa marrom pula sobre o cão preguiçoso enquanto o fazendeiro observa da varanda.",
      "La volpe marrone veloce salta sopra il cane pigro mentre il contadino guarda dal portico.",
      "De snelle bruine vos springt over de luie hond terwijl de boer vanaf de veranda toekijkt.",
      "Szybki brązowy lis przeskakuje nad leniwym psem, a rolnik patrzy z werandy.",
      "Быстрая коричневая лиса прыгает через ленивую собаку, пока фермер смотрит с крыльца.",
      "Швидка коричнева лисиця стрибає через ледачого пса, поки фермер дивиться з ґанку.",
      "Бързата кафява лисица прескача мързеливото куче, докато фермерът гледа от верандата.",
      "Η γρήγορη καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί ενώ ο αγρότης κοιτάζει.",
      "الثعلب البني السريع يقفز فوق الكلب الكسول بينما يراقب المزارع من الشرفة.",
      "روباه قهوه‌ای سریع از روی سگ تنبل می‌پرد در حالی که کشاورز از ایوان نگاه می‌کند و یک روز خوب است.",
      "تیز بھورا لومڑی سست کتے کے اوپر سے چھلانگ لگاتا ہے جبکہ کسان برآمدے سے دیکھتا ہے۔",
      "השועל החום המהיר קופץ מעל הכלב העצלן בזמן שהחקלאי מביט מהמרפסת.",
      "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है जबकि किसान बरामदे से देखता है।",
      "जलद तपकिरी कोल्हा आळशी कुत्र्यावरून उडी मारतो तर शेतकरी व्हरांड्यातून पाहतो.",
      "छिटो खैरो स्याल अल्छी कुकुरमाथि उफ्रन्छ जब किसान बरन्डाबाट हेर्छ।",
      "দ্রুত বাদামী শিয়াল অলস কুকুরের উপর দিয়ে লাফ দেয় যখন কৃষক বারান্দা থেকে দেখে।",
      "வேகமான பழுப்பு நரி சோம்பேறி நாயின் மேல் குதிக்கிறது, விவசாயி தாழ்வாரத்திலிருந்து பார்க்கிறார்.",
      "వేగవంతమైన గోధుమ నక్క సోమరి కుక్కపై నుండి దూకుతుంది, రైతు వరండా నుండి చూస్తాడు.",
      "ವೇಗದ ಕಂದು ನರಿ ಸೋಮಾರಿ ನಾಯಿಯ ಮೇಲೆ ಜಿಗಿಯುತ್ತದೆ, ರೈತ ವರಾಂಡದಿಂದ ನೋಡುತ್ತಾನೆ.",
      "വേഗതയുള്ള തവിട്ട് കുറുക്കൻ മടിയനായ നായയുടെ മുകളിലൂടെ ചാടുന്നു.",
      "ઝડપી ભૂરું શિયાળ આળસુ કૂતરા પર કૂદે છે જ્યારે ખેડૂત વરંડામાંથી જુએ છે.",
      "ਤੇਜ਼ ਭੂਰੀ ਲੂੰਬੜੀ ਆਲਸੀ ਕੁੱਤੇ ਉੱਤੇ ਛਾਲ ਮਾਰਦੀ ਹੈ ਜਦੋਂ ਕਿਸਾਨ ਵਰਾਂਡੇ ਤੋਂ ਦੇਖਦਾ ਹੈ।",
      "สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจขณะที่ชาวนามองจากระเบียง",
      "素早い茶色の狐が怠け者の犬を飛び越え、農夫はベランダから眺めている。",
      "敏捷的棕色狐狸跳过了懒狗，农夫在门廊上看着。",
      "敏捷的棕色狐狸跳過了懶狗，農夫在門廊上看著。",
      "빠른 갈색 여우가 게으른 개를 뛰어넘고 농부는 현관에서 지켜본다.",
      "Con cáo nâu nhanh nhẹn nhảy qua con chó lười trong khi người nông dân nhìn từ hiên nhà.",
      "Con ca\u0301o nâu nhanh nhe\u0323n nha\u0309y qua con cho\u0301 lươ\u0300i trong khi ngươ\u0300i nông dân nhi\u0300n.",
      "Vulpea maro rapidă sare peste câinele leneș în timp ce fermierul privește de pe verandă, ținând ștergarul.",
      "Nopea ruskea kettu hyppää laiskan koiran yli, kun maanviljelijä katselee kuistilta.",
      "Den snabba bruna räven hoppar över den lata hunden medan bonden tittar från verandan.",
      "Hızlı kahverengi tilki tembel köpeğin üzerinden atlarken çiftçi verandadan izliyor.",
      "Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu wakati mkulima anatazama kutoka barazani.",
      "Rubah coklat yang cepat melompati anjing malas sementara petani menonton dari beranda.",
      "Ang mabilis na kayumangging soro ay tumalon sa tamad na aso habang nanonood ang magsasaka.",
  };
  std::vector<std::string> texts = {
      "", " ", "   \n\t ", "123 456", "!!! ??? ...", "YES", "NO", "A", "a", "etchings", "Etchings", "I",
      "yes", "ok", "hello", "Hello World", "HELLO WORLD", "hello world", "coastal elegance properties",
      "John Smith, Mary Jones, Peter Brown", "«»°", "— “quoted” —", "🙂🙂🙂", "x\u0301y\u0303z",
      "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ", "ÀÈÌÒÙàèìòù ÂÊÔâêô ĂăƠơƯư",
      "ひらがな カタカナ ㄅㄆㄇㄈ 한국어 中文", "ﾊﾝｶｸ ＡＢＣ", "see https://example.com/a?b=c&d=e#f and more text here",
      "mail me at someone.name@example-domain.co.uk or not", "a@b", "x@y.z", "user@@host", "@@@",
      "http://", "https://x", "CamelCaseWordsInASentence", "ABC def GHI jkl", "ǅemal ǈubljana ǋegoš",
      "Ⅰ Ⅱ Ⅲ Ⅳ ⅰ ⅱ ⅲ", "ⒶⒷⒸ ⓐⓑⓒ", "𝐀𝐁𝐂 𝐚𝐛𝐜",
  };
  for (const std::string& s : sentences) {
    texts.push_back(s);
    texts.push_back(packbench::evals::ifeval::py_lower(s));
    std::string upper;
    for (char c : s) upper.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
    texts.push_back(upper);
    texts.push_back(s.substr(0, s.find(' ')));                     // the first word
    texts.push_back(s + " " + sentences[0]);                        // mixed with English
    texts.push_back(s + " https://example.org/x " + s + " a.b@c.de");
  }
  // Mostly non-Latin text with a few Latin words (cleaning drops them), and the reverse.
  texts.push_back(sentences[8] + " OK fine " + sentences[27]);
  texts.push_back("Hello there " + sentences[28]);
  // Longer than the 10,000 characters langdetect reads.
  std::string long_text;
  while (long_text.size() < 30000) long_text += sentences[1] + " " + sentences[8] + " ";
  texts.push_back(long_text);
  return texts;
}

}  // namespace

TEST(Langdetect, MissingProfilesAreAClearErrorNamingThePath) {
  std::string dir = packbench::testing::temp_dir("no_langdetect");
  try {
    Detector d(dir);
    FAIL() << "expected an error";
  } catch (const packbench::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/profiles"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("python3-langdetect"), std::string::npos) << e.what();
  }
  // A profile that is not JSON names its file.
  fs::create_directories(dir + "/profiles");
  fs::create_directories(dir + "/utils");
  std::ofstream(dir + "/utils/messages.properties") << "NGram.LATIN1_EXCLUDE=\\u00A0\n";
  std::ofstream(dir + "/profiles/xx") << "{\"freq\": {\"a\": 1}, \"n_words\": [1, 0";
  try {
    Detector d(dir);
    FAIL() << "expected an error";
  } catch (const packbench::Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/profiles/xx"), std::string::npos) << e.what();
  }
}

TEST(Langdetect, IfevalLanguageCheckFailsLoudlyWithoutProfiles) {
  // In a fresh process (the shared detector loads once): no profiles -> an error naming the
  // folder, never a guessed verdict.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("PACKBENCH_LANGDETECT_DIR", "/nonexistent/packbench-langdetect", 1);
        try {
          packbench::evals::ifeval::detect_language("an English sentence");
        } catch (const packbench::Error& e) {
          std::fprintf(stderr, "error: %s\n", e.what());
          std::exit(3);
        }
        std::exit(0);
      },
      ::testing::ExitedWithCode(3), "error: langdetect profiles not found: /nonexistent/packbench-langdetect/profiles");
}

TEST(Langdetect, HandWorkedFeatures) {
  PB_REQUIRE_LANGDETECT(detector);
  auto feats = [&](const std::string& t) {
    std::vector<std::string> out;
    for (const auto& w : detector->features(t)) out.push_back(packbench::evals::ifeval::utf8_encode(w));
    return out;
  };
  // "YES": Y starts a word (" Y", "Y"); E and S continue a capitalised word and are skipped.
  EXPECT_EQ(feats("YES"), (std::vector<std::string>{"Y", " Y"}));
  // "ab": a, " a", then b, "ab", " ab"; digits and punctuation become spaces.
  EXPECT_EQ(feats("ab!"), (std::vector<std::string>{"a", " a", "b", "ab", " ab", "b ", "ab "}));
  EXPECT_FALSE(detector->detect("123 !!!").has_value());  // no features: langdetect raises
  EXPECT_FALSE(detector->detect("").has_value());
  // URLs and e-mail addresses are removed before anything else.
  EXPECT_EQ(detector->cleaned_text("go https://a.b/c now"), U"go now");  // then space runs collapse
  EXPECT_EQ(detector->cleaned_text("to x.y@mail.com ok"), U"to ok");
  EXPECT_EQ(detector->cleaned_text("at https://a.b"), U"at ");
}

TEST(Langdetect, SameAnswersAsPythonLangdetectOnVariedTexts) {
  PB_REQUIRE_LANGDETECT(detector);
  PB_REQUIRE_LANGDETECT_PYTHON(python);
  std::vector<std::string> texts = varied_texts();
  ASSERT_GE(texts.size(), 250u);
  LangdetectReference ref = packbench::testing::langdetect_reference(python, texts);
  packbench::testing::expect_same_as_reference(*detector, texts, ref, "varied text");
}
