#!/usr/bin/env python3
"""Writes a benchmark corpus of Twitter v1.1 streaming tweets, one per line.

    python3 tests/bench/gen_corpus.py N OUT [--seed S] [--match-fraction F]
    python3 tests/bench/gen_corpus.py --phrases N [--seed S]

The first form writes N tweets to OUT as NDJSON and prints a one-line JSON
summary on stdout ({"tweets":N,"bytes":...,"with_phrase":...}). The second
prints a FILTER value: N distinct comma-separated track phrases, one of them
"cloud computing", the others realistic multi-word phrases that mostly do not
match the corpus (many share one word with it, so the matcher does real work).

Everything is deterministic for a given seed (random.Random, no clock).

The tweets look like what statuses/filter sends: the full `user` object
(~40 fields), `entities` with hashtags, urls, user_mentions and symbols,
`extended_tweet` for long texts (the top-level text cut at 140 characters,
"truncated": true), retweets carrying `retweeted_status`, quote tweets with
`quoted_status`, replies, snowflake ids above 2^53 with their `id_str`,
geo/coordinates/place null, a dozen languages, emoji and other non-ASCII
text. Half the lines are serialised in Twitter's escaped style (non-ASCII as
\\uXXXX, "/" as "\\/", "<" ">" as \\u003c \\u003e), half with raw UTF-8.
About 3.5 KB a line on average.

A fraction of the tweets (--match-fraction, default 0.10) carry the phrase
"cloud computing" in some form that Twitter's `track` matches (any case, as
hashtags, the two words apart or in reverse order, after the 140-character
cut of an extended tweet, inside a retweeted text). The others never have
both words as tokens, though some have near misses (#CloudComputing,
"clouds", "computer"), which `track` does not match.
"""
import argparse
import json
import random
import sys
from datetime import datetime, timezone

TWEPOCH_MS = 1288834974657
START_MS = 1665400000000  # Mon Oct 10 2022, 11:06:40 UTC

SOURCES = [
    '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
    '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
    '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
    '<a href="https://about.twitter.com/products/tweetdeck" rel="nofollow">TweetDeck</a>',
    '<a href="https://buffer.com" rel="nofollow">Buffer</a>',
    '<a href="https://www.hootsuite.com" rel="nofollow">Hootsuite Inc.</a>',
    '<a href="http://twitter.com/#!/download/ipad" rel="nofollow">Twitter for iPad</a>',
    '<a href="https://ifttt.com" rel="nofollow">IFTTT</a>',
]

# Per language: words, emoji-free fillers. Kept free of "cloud" and
# "computing" so only the planted tweets match the default filter.
WORDS = {
    "en": ("the new release of our data platform is out today and it makes "
           "deploying services faster than ever we are hiring engineers who love "
           "distributed systems open source security kubernetes serverless storage "
           "networking latency pricing migration team great talk at the conference "
           "this morning about scaling databases what do you think thread below "
           "just shipped a fix for the outage sorry everyone coffee first then "
           "meetings all day weekend plans game night with friends really good "
           "article on machine learning infrastructure costs and how to cut them "
           "my favourite podcast episode this week is about startups and funding").split(),
    "es": ("hoy lanzamos la nueva versión de nuestra plataforma de datos con más "
           "seguridad y menos latencia estamos contratando ingenieros que aman los "
           "sistemas distribuidos gran charla en la conferencia de esta mañana "
           "sobre bases de datos qué opinan hilo abajo café primero después "
           "reuniones todo el día fin de semana con amigos artículo muy bueno "
           "sobre infraestructura y costes migración equipo").split(),
    "pt": ("hoje lançamos a nova versão da nossa plataforma de dados com mais "
           "segurança e menos latência estamos contratando engenheiros ótima "
           "palestra na conferência desta manhã sobre bancos de dados o que vocês "
           "acham café primeiro depois reuniões o dia todo fim de semana com "
           "amigos artigo muito bom sobre infraestrutura migração equipe").split(),
    "fr": ("aujourd'hui nous publions la nouvelle version de notre plateforme de "
           "données plus sûre et plus rapide nous recrutons des ingénieurs très "
           "belle conférence ce matin sur les bases de données qu'en pensez-vous "
           "café d'abord puis réunions toute la journée week-end entre amis "
           "article intéressant sur l'infrastructure et les coûts équipe").split(),
    "de": ("heute erscheint die neue Version unserer Datenplattform schneller und "
           "sicherer als je zuvor wir stellen Ingenieurinnen und Ingenieure ein "
           "toller Vortrag auf der Konferenz heute Morgen über Datenbanken was "
           "meint ihr Kaffee zuerst dann Besprechungen den ganzen Tag Wochenende "
           "mit Freunden guter Artikel über Infrastruktur und Kosten Größe Straße "
           "Übergang Team").split(),
    "tr": ("bugün veri platformumuzun yeni sürümünü yayınladık daha hızlı ve daha "
           "güvenli mühendis arıyoruz bu sabah konferansta veritabanları üzerine "
           "harika bir konuşma vardı ne düşünüyorsunuz önce kahve sonra bütün gün "
           "toplantı hafta sonu arkadaşlarla altyapı ve maliyetler üzerine güzel "
           "bir makale ekip").split(),
    "ru": ("сегодня мы выпустили новую версию нашей платформы данных быстрее и "
           "безопаснее чем раньше мы ищем инженеров отличный доклад на "
           "конференции сегодня утром о базах данных что думаете сначала кофе "
           "потом встречи весь день выходные с друзьями хорошая статья об "
           "инфраструктуре и затратах команда").split(),
    "ar": ("أطلقنا اليوم الإصدار الجديد من منصة البيانات أسرع وأكثر أمانا نحن "
           "نوظف مهندسين محاضرة رائعة في المؤتمر هذا الصباح عن قواعد البيانات ما "
           "رأيكم القهوة أولا ثم اجتماعات طوال اليوم عطلة نهاية الأسبوع مع "
           "الأصدقاء مقال جيد عن البنية التحتية والتكاليف الفريق").split(),
    "hi": ("आज हमने अपने डेटा प्लेटफ़ॉर्म का नया संस्करण जारी किया पहले से तेज़ और "
           "सुरक्षित हम इंजीनियरों की भर्ती कर रहे हैं आज सुबह सम्मेलन में डेटाबेस "
           "पर शानदार बातचीत आप क्या सोचते हैं पहले कॉफ़ी फिर पूरे दिन बैठकें "
           "सप्ताहांत दोस्तों के साथ टीम").split(),
    "th": ("วันนี้เราเปิดตัว แพลตฟอร์มข้อมูล เวอร์ชันใหม่ เร็วขึ้น ปลอดภัยขึ้น "
           "เรากำลังรับสมัคร วิศวกร การบรรยาย ที่ยอดเยี่ยม ในงานประชุม เช้านี้ "
           "คุณคิดอย่างไร กาแฟก่อน แล้วประชุม ทั้งวัน ทีมงาน").split(),
    # Chinese, Japanese and Korean: clauses, no spaces inside (CJK)
    "ja": ("今日はデータ基盤の新しいバージョンをリリースしました 以前より速く安全です "
           "エンジニアを募集中です 今朝のカンファレンスでデータベースについて素晴らしい講演がありました "
           "どう思いますか まずコーヒー それから一日中会議 週末は友達とゲーム インフラとコストについての良い記事").split(),
    "zh": ("今天我们发布了数据平台的新版本 比以前更快更安全 我们正在招聘工程师 "
           "今天早上的会议上有一个关于数据库的精彩演讲 你们怎么看 先喝咖啡 然后开一整天的会 "
           "周末和朋友一起 关于基础设施和成本的好文章").split(),
    "ko": ("오늘 데이터 플랫폼의 새 버전을 출시했습니다 이전보다 빠르고 안전합니다 "
           "엔지니어를 채용하고 있습니다 오늘 아침 컨퍼런스에서 데이터베이스에 관한 "
           "훌륭한 발표가 있었습니다 어떻게 생각하세요 먼저 커피 그리고 하루 종일 회의 팀").split(),
}
# How often each language appears (roughly the stream's mix for a tech filter).
LANG_WEIGHTS = [("en", 46), ("es", 9), ("pt", 6), ("ja", 9), ("fr", 4), ("de", 4), ("tr", 3),
                ("ru", 3), ("ar", 4), ("hi", 2), ("th", 2), ("zh", 2), ("ko", 3), ("und", 3)]

EMOJI = ["\U0001F680", "\U0001F525", "\U0001F602", "\u2764\ufe0f", "\U0001F44D", "\U0001F389",
         "\u2601\ufe0f", "\U0001F914", "\U0001F64F", "\U0001F4AF", "\u2728", "\U0001F60D",
         "\U0001F469\u200d\U0001F4BB", "\U0001F1EA\U0001F1F8", "\U0001F3F3\ufe0f\u200d\U0001F308",
         "\u2615", "\U0001F4C8", "\U0001F440"]

HASHTAGS = ["DevOps", "AWS", "Azure", "GCP", "Kubernetes", "Serverless", "BigData", "AI",
            "MachineLearning", "DataScience", "Python", "golang", "rustlang", "100DaysOfCode",
            "CyberSecurity", "Tech", "Startup", "SaaS", "OpenSource", "Linux", "cloudnative",
            "IoT", "Fintech", "web3", "CloudComputing", "Clouds", "computer", "SRE", "FinOps",
            "Docker", "Terraform", "datos", "tecnología", "エンジニア", "インフラ", "技术",
            "تقنية", "технологии", "Teknoloji", "デジタル"]
# Near misses: look like the phrase but do not match it as track does.
NEAR_MISS = ["#CloudComputing", "clouds", "computer", "cloudy", "compute", "#cloudcomputing",
             "CloudComputing", "computers", "Cloudflare", "cloudcomputing.example"]
DOMAINS = ["example.com", "blog.example.org", "news.example.net", "github.com", "medium.com",
           "www.youtube.com", "aws.amazon.com", "techcrunch.com", "www.theverge.com",
           "dev.to", "lnkd.in", "bit.ly", "zenn.dev", "qiita.com", "habr.com", "elpais.com"]
URL_PATHS = ["blog/2022/10/release-notes", "watch?v=dQw4w9WgXcQ", "p/8a1f3c", "news/tech/123456",
             "articles/scaling-postgres-to-millions", "r/abc123", "events/reinvent", "jobs/4471",
             "2022/10/10/startups-funding-round/", "post/how-we-cut-costs", "docs/getting-started"]
# Planted forms of the phrase: each matches "cloud computing" as track does.
PHRASE_FORMS = ["cloud computing", "Cloud Computing", "CLOUD COMPUTING", "Cloud computing",
                "#cloud #computing", "#Cloud computing", "cloud #Computing", "cloud, computing",
                "\u201ccloud computing\u201d", "(cloud computing)", "cloud computing's", "cloud computing!",
                "@cloud computing", "computing in the cloud", "cloud-based computing",
                "computing \u2026 cloud"]

FIRST = ["Dan", "Sarah", "Lucía", "João", "Aiko", "Mehmet", "Olga", "Fatima", "Priya", "Chen",
         "Min-jun", "Pierre", "Anna", "Kwame", "Sofia", "Ahmed", "Yuki", "Carlos", "Emma", "Ravi",
         "Nadia", "Tom", "Ingrid", "Diego", "Léa", "Hiroshi", "Amara", "Ivan", "Mei", "Omar"]
LAST = ["Okafor", "Lindqvist", "Fernández", "Silva", "Tanaka", "Yılmaz", "Ivanova", "Haddad",
        "Sharma", "Wei", "Kim", "Dubois", "Schmidt", "Mensah", "Rossi", "Khan", "Sato", "García",
        "Brown", "Patel", "Petrov", "Nguyen", "Müller", "López", "Martin", "Suzuki", "Diallo",
        "Kowalski", "Zhang", "Hassan"]
NAME_DECOR = ["", "", "", "", " \U0001F680", " \u2601\ufe0f", " | DevOps", " \U0001F1E7\U0001F1F7",
              " (she/her)", " \u2728", " \U0001F427", " \u3010公式\u3011"]
LOCATIONS = [None, None, "Seattle, WA", "Madrid, España", "São Paulo, Brasil", "東京都", "Berlin",
             "Lagos / Remote", "London, England", "Bengaluru, India", "İstanbul", "Москва",
             "Paris, France", "Ciudad de México", "Seoul", "\U0001F30D", "Cairo", "Bangkok",
             "上海", "Toronto, Ontario", "Earth"]
DESCRIPTIONS = [
    "Ops person. Opinions are my own. Pager carrier.",
    "SRE @ a bank. Kubernetes, coffee, cross-country skiing.",
    "Ingeniera de software. Nube, datos y café \u2615",
    "Building things on the internet since 1999 \U0001F310 ex-@bigcorp",
    "インフラエンジニア。クラウドとコーヒーが好き \u2615",
    "Developer advocate. I talk about databases so you don't have to.",
    "Yazılım mühendisi | Açık kaynak | \U0001F1F9\U0001F1F7",
    "Tech news, every hour. Not affiliated with anyone.",
    "Data engineer. Cloud computing, Spark, and bad jokes.",
    "مهندس برمجيات | تقنية | بيانات",
    "Full-stack dev \U0001F469\u200d\U0001F4BB #100DaysOfCode",
    "Программист, люблю Linux и котиков \U0001F431",
    "",
    "Official account of a meetup for builders in the Pacific Northwest. Code of conduct: https://t.co/abcDEF1234",
    "Dad, runner, CTO @ startup. Views mine. RT \u2260 endorsement.",
]
# Words that phrases in the 1,000-phrase FILTER are built from. The first
# list shares words with the corpus text (so lookups hit and the matcher
# counts terms); the second mostly does not.
PHR_COMMON = ["data", "new", "platform", "release", "security", "latency", "pricing", "team",
              "conference", "databases", "machine", "learning", "open", "source", "storage",
              "networking", "kubernetes", "serverless", "startups", "costs", "engineers",
              "outage", "migration", "infrastructure", "podcast", "article", "aws", "devops",
              "ai", "linux"]
PHR_RARE = ["quantum", "blockchain", "edge", "5g", "satellite", "robotics", "biotech", "lidar",
            "exascale", "neuromorphic", "photonic", "fusion", "drone", "autonomous", "hydrogen",
            "battery", "semiconductor", "foundry", "wafer", "mainframe", "cobol", "fortran",
            "haskell", "erlang", "elixir", "clojure", "ocaml", "zig", "webassembly", "risc-v",
            "arm64", "fpga", "asic", "tpu", "gpu", "cuda", "opencl", "vulkan", "metal", "webgpu",
            "ransomware", "phishing", "zero-day", "botnet", "ddos", "firewall", "vpn", "sase",
            "zero-trust", "sbom", "supply-chain", "sigstore", "fediverse", "mastodon", "matrix",
            "nostr", "ipfs", "defi", "nft", "metaverse", "vr", "ar", "haptics", "wearables",
            "smartwatch", "e-ink", "microled", "oled", "chiplet", "interconnect", "cxl", "nvme",
            "ssd", "tape", "archive", "backup", "disaster", "recovery", "observability",
            "tracing", "telemetry", "ebpf", "wasm", "unikernel", "microvm", "firecracker",
            "hypervisor", "virtualization", "containers", "mesh", "istio", "envoy", "gateway",
            "cdn", "dns", "bgp", "ipv6", "multicast", "sdn", "nfv", "wifi", "bluetooth", "zigbee",
            "lora", "nb-iot", "rfid", "nfc", "payments", "crypto", "stablecoin", "cbdc",
            "regtech", "insurtech", "proptech", "agritech", "edtech", "healthtech", "genomics",
            "protein", "folding", "climate", "carbon", "sustainability", "solar", "wind",
            "nuclear", "grid", "ev", "charging", "lithium", "recycling", "logistics", "warehouse",
            "robot", "vision", "speech", "translation", "chatbot", "llm", "transformer",
            "diffusion", "embedding", "vector", "search", "ranking", "recommendation",
            "analytics", "warehousing", "lakehouse", "streaming", "kafka", "flink", "spark",
            "airflow", "dbt", "etl", "olap", "oltp", "graph", "timeseries", "geospatial"]
PHR_TAIL = ["summit", "conference", "meetup", "pricing", "outage", "benchmark", "roadmap",
            "startup", "funding", "acquisition", "layoffs", "hiring", "tutorial", "webinar",
            "certification", "regulation", "vulnerability", "patch", "launch", "keynote", "ipo",
            "shortage", "report", "survey", "market", "strategy", "adoption", "migration",
            "architecture", "best practices", "open source", "news", "trends", "jobs", "course",
            "handbook", "standard", "consortium", "alliance", "hackathon"]


def snowflake(ts_ms, seq, worker):
    return ((ts_ms - TWEPOCH_MS) << 22) | (worker << 12) | (seq & 0xFFF)


def created_at(ts_ms):
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%a %b %d %H:%M:%S +0000 %Y")


class Gen:
    def __init__(self, seed, match_fraction):
        self.r = random.Random(seed)
        self.match_fraction = match_fraction
        self.now = START_MS
        self.seq = 0
        self.users = [self.make_user(i) for i in range(4000)]
        self.langs = [l for l, _ in LANG_WEIGHTS]
        self.lang_w = [w for _, w in LANG_WEIGHTS]
        self.planted = 0

    # ---- ids and times ----
    def tick(self):
        self.now += self.r.randint(0, 40)
        self.seq += 1
        return self.now

    def past(self, max_back_ms):
        return self.now - self.r.randint(1000, max_back_ms)

    def tweet_id(self, ts):
        return snowflake(ts, self.seq, self.r.randint(0, 1023))

    def tco(self):
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "https://t.co/" + "".join(self.r.choice(alphabet) for _ in range(10))

    # ---- users ----
    def make_user(self, i):
        r = self.r
        first, last = r.choice(FIRST), r.choice(LAST)
        name = first + " " + last + r.choice(NAME_DECOR)
        screen = (first.lower().encode("ascii", "ignore").decode() or "user") + r.choice(
            ["_", "", "dev", "_ops", "", "0x"]) + (last.lower().encode("ascii", "ignore").decode()[:6]
                                                 if r.random() < 0.6 else str(r.randint(1, 99999)))
        screen = "".join(ch for ch in screen if ch.isascii() and (ch.isalnum() or ch == "_"))[:15]
        old = r.random() < 0.55
        if old:
            uid = r.randint(10_000, 4_000_000_000)
            created_ms = r.randint(1_160_000_000_000, 1_450_000_000_000)
        else:
            created_ms = r.randint(1_450_000_000_000, START_MS - 86_400_000)
            uid = snowflake(created_ms, r.randint(0, 4095), r.randint(0, 1023))
        default_profile = r.random() < 0.5
        followers = int(r.paretovariate(1.1) * 40)
        verified = followers > 50_000 and r.random() < 0.3
        has_url = r.random() < 0.35
        img = "%d/%s" % (r.randint(10**17, 10**19), "".join(r.choice("abcdefghijklmnopqrstuvwxyzAB0123456789_")
                                                              for _ in range(8)))
        u = {
            "id": uid,
            "id_str": str(uid),
            "name": name,
            "screen_name": screen,
            "location": r.choice(LOCATIONS),
            "url": ("https://" + r.choice(DOMAINS)) if has_url else None,
            "description": r.choice(DESCRIPTIONS) or None,
            "translator_type": r.choice(["none", "none", "none", "regular"]),
            "protected": False,
            "verified": verified,
            "followers_count": followers,
            "friends_count": int(r.paretovariate(1.3) * 80),
            "listed_count": followers // r.randint(20, 200),
            "favourites_count": r.randint(0, 120_000),
            "statuses_count": r.randint(1, 300_000),
            "created_at": created_at(created_ms),
            "utc_offset": None,
            "time_zone": None,
            "geo_enabled": r.random() < 0.3,
            "lang": None,
            "contributors_enabled": False,
            "is_translator": False,
            "profile_background_color": "F5F8FA" if default_profile else r.choice(["000000", "C0DEED", "1A1B1F", "EBEBEB"]),
            "profile_background_image_url": "" if default_profile else "http://abs.twimg.com/images/themes/theme1/bg.png",
            "profile_background_image_url_https": "" if default_profile else "https://abs.twimg.com/images/themes/theme1/bg.png",
            "profile_background_tile": False,
            "profile_link_color": "1DA1F2" if default_profile else r.choice(["1B95E0", "E81C4F", "19CF86", "ABB8C2"]),
            "profile_sidebar_border_color": "C0DEED" if default_profile else "000000",
            "profile_sidebar_fill_color": "DDEEF6" if default_profile else "000000",
            "profile_text_color": "333333" if default_profile else "000000",
            "profile_use_background_image": default_profile,
            "profile_image_url": "http://pbs.twimg.com/profile_images/%s_normal.jpg" % img,
            "profile_image_url_https": "https://pbs.twimg.com/profile_images/%s_normal.jpg" % img,
            "default_profile": default_profile,
            "default_profile_image": False,
            "following": None,
            "follow_request_sent": None,
            "notifications": None,
            "withheld_in_countries": [],
        }
        if r.random() < 0.6:
            u["profile_banner_url"] = "https://pbs.twimg.com/profile_banners/%d/%d" % (uid, r.randint(1_400_000_000, 1_665_000_000))
            # keep Twitter's order: the banner comes before default_profile
            tail = {k: u.pop(k) for k in ["default_profile", "default_profile_image", "following",
                                          "follow_request_sent", "notifications", "withheld_in_countries"]}
            u.update(tail)
        return u

    # ---- text ----
    def words(self, lang, n):
        vocab = WORDS[lang]
        if lang in ("ja", "zh"):
            return "\u3001".join(self.r.choice(vocab) for _ in range(max(1, n // 4))) + "\u3002"
        return " ".join(self.r.choice(vocab) for _ in range(n))

    def make_text(self, lang, plant, long):
        """Returns (text, hashtags, mentions, urls) with entity indices, the
        text as Twitter shows it (& < > escaped). Entities are (kind, value,
        start, end) in code points."""
        r = self.r
        base_lang = lang if lang in WORDS else "en"
        parts = []  # (kind, value) kind: "t" text, "#", "@", "u", "e"
        if r.random() < 0.18:
            for _ in range(r.randint(1, 2)):
                parts.append(("@", r.choice(self.users)))
        n = r.randint(14, 30) if long else r.randint(5, 14)
        parts.append(("t", self.words(base_lang, n)))
        if r.random() < 0.15:
            parts.append(("t", r.choice(NEAR_MISS)))
        if r.random() < 0.15:
            parts.append(("t", "&amp; " + self.words(base_lang, 3)))
        if plant:
            form = r.choice(PHRASE_FORMS)
            if long and r.random() < 0.5:
                parts.append(("t", self.words(base_lang, r.randint(8, 16))))  # push past the cut
            pos = len(parts) if r.random() < 0.7 else max(0, len(parts) - 1)
            parts.insert(pos, ("t", form))
            if long:
                parts.append(("t", self.words(base_lang, r.randint(2, 6))))
        if r.random() < 0.45:
            for _ in range(r.randint(1, 3)):
                parts.append(("e", r.choice(EMOJI)))
        if r.random() < 0.5:
            for _ in range(r.randint(1, 4)):
                parts.append(("#", r.choice(HASHTAGS)))
        if r.random() < 0.45:
            parts.append(("u", "https://%s/%s" % (r.choice(DOMAINS), r.choice(URL_PATHS))))
        text, hashtags, mentions, urls = "", [], [], []
        for kind, v in parts:
            if text:
                text += "" if kind == "e" and r.random() < 0.5 else " "
            start = len(text)
            if kind == "#":
                text += "#" + v
                hashtags.append({"text": v, "indices": [start, len(text)]})
            elif kind == "@":
                text += "@" + v["screen_name"]
                mentions.append({"screen_name": v["screen_name"], "name": v["name"], "id": v["id"], "id_str": v["id_str"],
                                 "indices": [start, len(text)]})
            elif kind == "u":
                t = self.tco()
                text += t
                disp = v.split("://", 1)[1]
                disp = disp[:23] + "\u2026" if len(disp) > 26 else disp
                urls.append({"url": t, "expanded_url": v, "display_url": disp, "indices": [start, len(text)]})
            else:
                text += v
        return text, hashtags, mentions, urls

    # ---- tweets ----
    def entities(self, hashtags, mentions, urls):
        return {"hashtags": hashtags, "urls": urls, "user_mentions": mentions, "symbols": []}

    def status(self, user, ts, lang, plant, quote_of=None, reply_to=None, top=True):
        """One status object. top: as a stream message (filter_level,
        timestamp_ms); else as an embedded retweeted/quoted status."""
        r = self.r
        tid = self.tweet_id(ts)
        long = r.random() < 0.3
        text, hashtags, mentions, urls = self.make_text(lang, plant, long)
        if reply_to is not None:
            pre = "@" + reply_to["user"]["screen_name"] + " "
            text = pre + text
            hashtags = [dict(h, indices=[h["indices"][0] + len(pre), h["indices"][1] + len(pre)]) for h in hashtags]
            urls = [dict(u, indices=[u["indices"][0] + len(pre), u["indices"][1] + len(pre)]) for u in urls]
            mentions = [{"screen_name": reply_to["user"]["screen_name"], "name": reply_to["user"]["name"],
                         "id": reply_to["user"]["id"], "id_str": reply_to["user"]["id_str"],
                         "indices": [0, len(pre) - 1]}] + [
                dict(m, indices=[m["indices"][0] + len(pre), m["indices"][1] + len(pre)]) for m in mentions]
        if quote_of is not None:
            permalink = "https://twitter.com/%s/status/%s" % (quote_of["user"]["screen_name"], quote_of["id_str"])
        truncated = len(text) > 140 or (quote_of is not None and len(text) > 116)
        st = {"created_at": created_at(ts), "id": tid, "id_str": str(tid)}
        ext = None
        if truncated:
            cut = 113
            more = self.tco()
            short = text[:cut].rsplit(" ", 1)[0] + "\u2026 " + more  # cut at a word
            st["text"] = short
            keep = lambda es: [e for e in es if e["indices"][1] <= len(short) - len(more) - 2]
            ents = self.entities(keep(hashtags), keep(mentions), keep(urls) + [{
                "url": more, "expanded_url": "https://twitter.com/i/web/status/" + str(tid),
                "display_url": "twitter.com/i/web/status/1\u2026",
                "indices": [len(short) - len(more), len(short)]}])
            first = len("@" + reply_to["user"]["screen_name"]) + 1 if reply_to is not None else 0
            ext = {"full_text": text, "display_text_range": [first, len(text)],
                   "entities": self.entities(hashtags, mentions, urls)}
        else:
            st["text"] = text
            ents = self.entities(hashtags, mentions, urls)
            if quote_of is not None:
                st["text"] = text + " " + self.tco()
                ents["urls"] = ents["urls"] + [{"url": st["text"][-23:], "expanded_url": permalink,
                                                "display_url": permalink[8:31] + "\u2026",
                                                "indices": [len(st["text"]) - 23, len(st["text"])]}]
        if reply_to is not None:
            st["display_text_range"] = [len("@" + reply_to["user"]["screen_name"]) + 1, len(st["text"])]
        st["source"] = r.choice(SOURCES)
        st["truncated"] = truncated
        st["in_reply_to_status_id"] = reply_to["id"] if reply_to else None
        st["in_reply_to_status_id_str"] = reply_to["id_str"] if reply_to else None
        st["in_reply_to_user_id"] = reply_to["user"]["id"] if reply_to else None
        st["in_reply_to_user_id_str"] = reply_to["user"]["id_str"] if reply_to else None
        st["in_reply_to_screen_name"] = reply_to["user"]["screen_name"] if reply_to else None
        st["user"] = user
        st["geo"] = None
        st["coordinates"] = None
        st["place"] = None
        st["contributors"] = None
        if quote_of is not None:
            st["quoted_status_id"] = quote_of["id"]
            st["quoted_status_id_str"] = quote_of["id_str"]
            st["quoted_status"] = quote_of
            st["quoted_status_permalink"] = {"url": self.tco(), "expanded": permalink,
                                             "display": permalink[8:]}
        st["is_quote_status"] = quote_of is not None
        if ext is not None:
            st["extended_tweet"] = ext
        big = top and r.random() < 0.1
        st["quote_count"] = r.randint(0, 40) if not top or big else 0
        st["reply_count"] = r.randint(0, 90) if not top or big else 0
        st["retweet_count"] = int(r.paretovariate(1.2) * 3) if not top or big else 0
        st["favorite_count"] = int(r.paretovariate(1.1) * 10) if not top or big else 0
        st["entities"] = ents
        if r.random() < 0.12:
            mid = r.randint(10**18, 2 * 10**18)
            st["extended_entities"] = {"media": [{
                "id": mid, "id_str": str(mid), "indices": [len(st["text"]), len(st["text"])],
                "media_url": "http://pbs.twimg.com/media/FeX%dAbC.jpg" % (mid % 10**6),
                "media_url_https": "https://pbs.twimg.com/media/FeX%dAbC.jpg" % (mid % 10**6),
                "url": self.tco(), "display_url": "pic.twitter.com/aB3dE5fG7h",
                "expanded_url": "https://twitter.com/%s/status/%d/photo/1" % (user["screen_name"], tid),
                "type": "photo", "sizes": {
                    "thumb": {"w": 150, "h": 150, "resize": "crop"},
                    "medium": {"w": 1200, "h": 675, "resize": "fit"},
                    "small": {"w": 680, "h": 383, "resize": "fit"},
                    "large": {"w": 1920, "h": 1080, "resize": "fit"}}}]}
        st["favorited"] = False
        st["retweeted"] = False
        if urls or "extended_entities" in st:
            st["possibly_sensitive"] = False
        if top:
            st["filter_level"] = "low"
        st["lang"] = lang
        if top:
            st["timestamp_ms"] = str(ts)
        return st

    def pick_lang(self):
        return self.r.choices(self.langs, self.lang_w)[0]

    def tweet(self):
        r = self.r
        ts = self.tick()
        plant = r.random() < self.match_fraction
        self.planted += plant
        user = r.choice(self.users)
        lang = self.pick_lang()
        kind = r.random()
        if kind < 0.33:  # a retweet: the original carries the text (and the phrase)
            ouser = r.choice(self.users)
            orig = self.status(ouser, self.past(3 * 86_400_000), lang, plant, top=False)
            otext = orig["extended_tweet"]["full_text"] if "extended_tweet" in orig else orig["text"]
            pre = "RT @%s: " % ouser["screen_name"]
            text = pre + otext
            if len(text) > 140:
                text = text[:139] + "\u2026"
            tid = self.tweet_id(ts)
            shift = lambda es: [dict(e, indices=[e["indices"][0] + len(pre), e["indices"][1] + len(pre)])
                                for e in es if e["indices"][1] + len(pre) <= len(text)]
            oents = orig["extended_tweet"]["entities"] if "extended_tweet" in orig else orig["entities"]
            mentions = [{"screen_name": ouser["screen_name"], "name": ouser["name"], "id": ouser["id"],
                         "id_str": ouser["id_str"], "indices": [3, 4 + len(ouser["screen_name"])]}]
            st = {"created_at": created_at(ts), "id": tid, "id_str": str(tid), "text": text,
                  "source": r.choice(SOURCES), "truncated": False,
                  "in_reply_to_status_id": None, "in_reply_to_status_id_str": None,
                  "in_reply_to_user_id": None, "in_reply_to_user_id_str": None,
                  "in_reply_to_screen_name": None, "user": user, "geo": None, "coordinates": None,
                  "place": None, "contributors": None, "retweeted_status": orig,
                  "is_quote_status": False, "quote_count": 0, "reply_count": 0, "retweet_count": 0,
                  "favorite_count": 0,
                  "entities": self.entities(shift(oents["hashtags"]), mentions + shift(oents["user_mentions"]),
                                            shift(oents["urls"])),
                  "favorited": False, "retweeted": False, "filter_level": "low", "lang": lang,
                  "timestamp_ms": str(ts)}
            return st
        if kind < 0.43:  # a quote: the phrase, if any, in the quoting text
            quser = r.choice(self.users)
            quoted = self.status(quser, self.past(86_400_000), self.pick_lang(), False, top=False)
            return self.status(user, ts, lang, plant, quote_of=quoted)
        if kind < 0.53:  # a reply
            puser = r.choice(self.users)
            parent = {"id": self.tweet_id(self.past(3_600_000)), "user": puser}
            parent["id_str"] = str(parent["id"])
            return self.status(user, ts, lang, plant, reply_to=parent)
        return self.status(user, ts, lang, plant)


def serialise(obj, escaped):
    if escaped:  # Twitter's style
        s = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
        return s.replace("/", "\\/").replace("<", "\\u003c").replace(">", "\\u003e")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def phrases(n, seed):
    r = random.Random(seed ^ 0x5EED)
    out, seen = [], {"cloud computing"}
    where = n // 2
    while len(out) < n - 1:
        k = r.random()
        if k < 0.35:
            p = r.choice(PHR_COMMON) + " " + r.choice(PHR_RARE)
        elif k < 0.75:
            p = r.choice(PHR_RARE) + " " + r.choice(PHR_TAIL)
        elif k < 0.9:
            p = r.choice(PHR_RARE) + " " + r.choice(PHR_RARE) + " " + r.choice(PHR_TAIL)
        else:
            p = r.choice(PHR_COMMON) + " " + r.choice(PHR_RARE) + " " + r.choice(PHR_TAIL)
        if p not in seen and len(set(p.split())) == len(p.split()):
            seen.add(p)
            out.append(p)
    out.insert(where, "cloud computing")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, help="number of tweets")
    ap.add_argument("out", nargs="?", help="output file ('-' for stdout)")
    ap.add_argument("--seed", type=int, default=20221010)
    ap.add_argument("--match-fraction", type=float, default=0.10)
    ap.add_argument("--escaped-fraction", type=float, default=0.5,
                    help="share of lines in Twitter's \\u-escaped style (default 0.5)")
    ap.add_argument("--phrases", type=int, metavar="N",
                    help="print a FILTER of N phrases (one is 'cloud computing') instead")
    a = ap.parse_args()
    if a.phrases is not None:
        if a.phrases < 1:
            ap.error("--phrases needs N >= 1")
        sys.stdout.write(",".join(phrases(a.phrases, a.seed)) + "\n")
        return
    if a.n is None or a.out is None:
        ap.error("give N and OUT (or --phrases N)")
    g = Gen(a.seed, a.match_fraction)
    f = sys.stdout.buffer if a.out == "-" else open(a.out, "wb")
    total = 0
    for _ in range(a.n):
        line = (serialise(g.tweet(), g.r.random() < a.escaped_fraction) + "\n").encode("utf-8")
        total += len(line)
        f.write(line)
    if f is not sys.stdout.buffer:
        f.close()
    summary = {"tweets": a.n, "bytes": total, "avg_bytes": round(total / max(a.n, 1)),
               "with_phrase": g.planted, "seed": a.seed}
    (sys.stderr if a.out == "-" else sys.stdout).write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
