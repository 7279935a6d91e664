#!/usr/bin/env python3
"""Writes the stream fixtures in tests/data/ from the hand-written content below.

    python3 tests/data/gen/gen.py        (from the repository root)

The output is committed; this script only saves typing the parts of a tweet
that follow from others (ids from timestamps, entities and their indices from
the text, the truncated text of extended tweets) so the fixtures stay
consistent. It is deterministic: no clock, no randomness, no network.

Lines are serialised as the streams send them: v1.1 lines mostly with raw
UTF-8, some in Twitter's escaped style (non-ASCII as \\uXXXX surrogate pairs,
"/" as "\\/", "<" and ">" as \\u003c, \\u003e); v2 lines compact.
"""
import hashlib
import json
import os
import re
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.dirname(HERE)

TWEPOCH_MS = 1288834974657


def snowflake(ts_ms, seq=0, worker=7, dc=11):
    return ((ts_ms - TWEPOCH_MS) << 22) | (dc << 17) | (worker << 12) | seq


def created_at(ts_ms):
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).strftime("%a %b %d %H:%M:%S +0000 %Y")


def iso(ts_ms):
    d = datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ts_ms % 1000)


SOURCES = {
    "web": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
    "iphone": '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
    "android": '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
    "tweetdeck": '<a href="https://about.twitter.com/products/tweetdeck" rel="nofollow">TweetDeck</a>',
    "buffer": '<a href="https://buffer.com" rel="nofollow">Buffer</a>',
}

# screen_name: (id, name, followers, friends, statuses, verified, location, description, created)
USERS = {
    "devops_dan": (14176, "Dan Okafor", 1234, 310, 20934, False, "Lagos / Remote",
                   "Ops person. Opinions are my own. Pager carrier.", "Mon Dec 18 09:12:44 +0000 2006"),
    "sre_sarah": (1019622432476983297, "Sarah Lindqvist", 8731, 512, 4410, False, "Stockholm",
                  "SRE @ a bank. Kubernetes, coffee, cross-country skiing.", "Wed Jul 18 16:20:01 +0000 2018"),
    "awsmeetupsea": (2983104711, "AWS Meetup Seattle", 15402, 890, 3102, False, "Seattle, WA",
                     "Monthly meetups for builders in the Pacific Northwest.", "Thu Jan 22 01:05:37 +0000 2015"),
    "ops_ollie": (899211036581171200, "Ollie \U0001F427", 212, 340, 1290, False, None,
                  "linux, cycling, bad puns", "Sun Aug 20 10:41:12 +0000 2017"),
    "taco_tuesday": (1603881234, "Taco Tuesday ATX", 48, 77, 302, False, "Austin, TX",
                     "tacos. every. day.", "Thu Jul 18 20:02:03 +0000 2013"),
    "lucia_dev": (1182735410102263808, "Lucía Fernández", 3120, 998, 7721, False, "Madrid, España",
                  "Ingeniera de software. Nube, datos y café ☕", "Fri Oct 11 19:00:12 +0000 2019"),
    "yuki_eng": (3301998877, "山田ゆき", 530, 410, 12044, False, "東京",
                 "インフラエンジニア。クラウドとラーメンが好き。", "Sat May 30 03:14:15 +0000 2015"),
    "ramen_taro": (709834517, "ラーメン太郎", 10233, 150, 88012, False, "渋谷",
                   "毎日ラーメン🍜", "Sun Jul 22 11:22:33 +0000 2012"),
    "omar_tech": (1324817263542300672, "عمر التقني", 22010, 1201, 5021, False, "الرياض",
                  "مهندس سحابي | Cloud architect", "Sat Nov 07 20:31:02 +0000 2020"),
    "berlin_jobs": (955230811, "Berlin Tech Jobs", 4021, 12, 30110, False, "Berlin, Deutschland",
                    "Jobs in der Berliner Tech-Szene.", "Sat Nov 17 22:10:09 +0000 2012"),
    "claire_fr": (126771532, "Claire Dubois", 941, 620, 15011, False, "Lyon",
                  "Développeuse. Parfois je parle de nuages.", "Fri Mar 26 17:44:09 +0000 2010"),
    "cloudnative_kim": (1240335018374717440, "Kim Nguyen", 51877, 402, 9011, True, "Vancouver, BC",
                        "Platform engineering lead. Writing about infra that stays up.", "Wed Mar 18 18:30:00 +0000 2020"),
    "pixel_pam": (47221089, "Pam 🎮", 77, 80, 430, False, "", "", "Tue Jun 16 20:01:55 +0000 2009"),
    "ana_nuvem": (1098877665544332211, "Ana Souza", 1502, 720, 3109, False, "São Paulo, Brasil",
                  "Computação em nuvem e dados.", "Fri Feb 22 08:00:00 +0000 2019"),
    "weather_seattle": (215553309, "Seattle Weather", 98012, 33, 44010, True, "Seattle, WA",
                        "Forecasts for the Emerald City.", "Sun Nov 14 04:18:21 +0000 2010"),
    "lab_admin": (1411223344556677889, "Lab Admin", 19, 25, 88, False, "University basement", "",
                  "Sat Jul 03 09:09:09 +0000 2021"),
    "dev_priya": (3157882001, "प्रिया शर्मा", 2103, 301, 3002, False, "बेंगलुरु",
                  "डेवलपर | सीख रही हूँ", "Thu Apr 16 06:30:00 +0000 2015"),
    "seoul_dev": (1122334455667788990, "서울개발자", 710, 200, 990, False, "서울", "백엔드 개발자",
                  "Mon May 20 01:02:03 +0000 2019"),
    "techwriter_tom": (18839785, "Tom Becker", 6120, 1800, 21003, False, "Portland, OR",
                       "I write docs so you don't have to read the source.", "Sat Jan 10 15:00:00 +0000 2009"),
    "telco_news": (261901327, "Telco News Daily", 33012, 400, 120334, False, "New York",
                   "News about networks & the people who run them.", "Sun Mar 06 22:00:00 +0000 2011"),
    "fire_emoji": (1500000000000000001, "🔥", 3, 0, 12, False, None, None, "Fri Jul 09 00:00:00 +0000 2021"),
    "cloud": (6020192, "cloud", 5102, 0, 3, False, None, None, "Tue May 15 12:00:00 +0000 2007"),
    "awscloud": (66780587, "Amazon Web Services", 2211000, 1100, 33000, True, "Seattle, WA",
                 "Official Twitter feed for Amazon Web Services.", "Wed Jul 22 20:15:40 +0000 2009"),
}


def user_obj(sn):
    uid, name, followers, friends, statuses, verified, loc, desc, created = USERS[sn]
    return {
        "id": uid, "id_str": str(uid), "name": name, "screen_name": sn,
        "location": loc, "url": None, "description": desc, "translator_type": "none",
        "protected": False, "verified": verified, "followers_count": followers,
        "friends_count": friends, "listed_count": followers // 40, "favourites_count": statuses // 3,
        "statuses_count": statuses, "created_at": created, "utc_offset": None, "time_zone": None,
        "geo_enabled": False, "lang": None, "contributors_enabled": False, "is_translator": False,
        "profile_background_color": "F5F8FA", "profile_background_image_url": "",
        "profile_background_image_url_https": "", "profile_background_tile": False,
        "profile_link_color": "1DA1F2", "profile_sidebar_border_color": "C0DEED",
        "profile_sidebar_fill_color": "DDEEF6", "profile_text_color": "333333",
        "profile_use_background_image": True,
        "profile_image_url": "http://pbs.twimg.com/profile_images/%d/avatar_normal.jpg" % (uid % 10**18),
        "profile_image_url_https": "https://pbs.twimg.com/profile_images/%d/avatar_normal.jpg" % (uid % 10**18),
        "default_profile": True, "default_profile_image": False,
        "following": None, "follow_request_sent": None, "notifications": None,
    }


HASHTAG = re.compile(r"(?<![\w&])#(\w*[^\W\d]\w*)")
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})")
TCO = re.compile(r"https://t\.co/[A-Za-z0-9]{10}")


def display(url):
    d = re.sub(r"^https?://(www\.)?", "", url)
    return d if len(d) <= 26 else d[:25] + "\u2026"


def entities(text, urls):
    """v1.1 entities of text; urls maps each t.co link in it to its expanded URL."""
    ents = {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []}
    for m in HASHTAG.finditer(text):
        ents["hashtags"].append({"text": m.group(1), "indices": [m.start(), m.end()]})
    for m in TCO.finditer(text):
        exp = urls[m.group(0)]
        ents["urls"].append({"url": m.group(0), "expanded_url": exp, "display_url": display(exp),
                             "indices": [m.start(), m.end()]})
    for m in MENTION.finditer(text):
        sn = m.group(1)
        uid, name = (USERS[sn][0], USERS[sn][1]) if sn in USERS else (0, sn)
        ents["user_mentions"].append({"screen_name": sn, "name": name, "id": uid, "id_str": str(uid),
                                      "indices": [m.start(), m.end()]})
    return ents


def tco(seed):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    n, out = int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:8], "big"), []
    for _ in range(10):
        n, r = divmod(n, 62)
        out.append(alphabet[r])
    return "https://t.co/" + "".join(out)


def status(ts, sn, text, lang, source="web", urls=None, reply_to=None, counts=(0, 0, 0, 0),
           filter_level="low", seq=0):
    """A v1.1 status. text may exceed 140 characters: it is then an extended tweet."""
    urls = dict(urls or {})
    tid = snowflake(ts, seq)
    t = {"created_at": created_at(ts), "id": tid, "id_str": str(tid)}
    start = 0
    if reply_to is not None:
        m = re.match(r"(@\w+ )+", text)
        start = m.end() if m else 0
    if len(text) > 140:
        link = tco(tid)
        urls[link] = "https://twitter.com/i/web/status/" + str(tid)
        cut = text[:113].rstrip()
        t["text"] = cut + "\u2026 " + link
        t["source"] = SOURCES[source]
        t["truncated"] = True
    else:
        t["text"] = text
        if start:
            t["display_text_range"] = [start, len(text)]
        t["source"] = SOURCES[source]
        t["truncated"] = False
    rt = reply_to or {}
    t["in_reply_to_status_id"] = rt.get("id")
    t["in_reply_to_status_id_str"] = rt.get("id_str")
    t["in_reply_to_user_id"] = rt["user"]["id"] if rt else None
    t["in_reply_to_user_id_str"] = rt["user"]["id_str"] if rt else None
    t["in_reply_to_screen_name"] = rt["user"]["screen_name"] if rt else None
    t["user"] = user_obj(sn)
    t["geo"] = None
    t["coordinates"] = None
    t["place"] = None
    t["contributors"] = None
    t["is_quote_status"] = False
    if t["truncated"]:
        t["extended_tweet"] = {"full_text": text, "display_text_range": [start, len(text)],
                               "entities": entities(text, urls)}
    t["quote_count"], t["reply_count"], t["retweet_count"], t["favorite_count"] = counts
    t["entities"] = entities(t["text"], urls)
    t["favorited"] = False
    t["retweeted"] = False
    t["filter_level"] = filter_level
    t["lang"] = lang
    t["timestamp_ms"] = str(ts)
    return t


def retweet(ts, sn, orig, source="iphone"):
    tid = snowflake(ts)
    osn = orig["user"]["screen_name"]
    full = orig.get("extended_tweet", {}).get("full_text", orig["text"])
    text = "RT @%s: %s" % (osn, full)
    if len(text) > 140:
        text = text[:139] + "\u2026"
    t = {"created_at": created_at(ts), "id": tid, "id_str": str(tid), "text": text,
         "source": SOURCES[source], "truncated": False,
         "in_reply_to_status_id": None, "in_reply_to_status_id_str": None,
         "in_reply_to_user_id": None, "in_reply_to_user_id_str": None, "in_reply_to_screen_name": None,
         "user": user_obj(sn), "geo": None, "coordinates": None, "place": None, "contributors": None,
         "retweeted_status": orig, "is_quote_status": False,
         "quote_count": 0, "reply_count": 0, "retweet_count": 0, "favorite_count": 0,
         "entities": entities(text, {}), "favorited": False, "retweeted": False,
         "filter_level": "low", "lang": orig["lang"], "timestamp_ms": str(ts)}
    return t


def quote(ts, sn, text, lang, quoted, source="android"):
    t = status(ts, sn, text, lang, source=source)
    items = list(t.items())
    t.clear()
    for k, v in items:
        t[k] = v
        if k == "contributors":
            t["quoted_status_id"] = quoted["id"]
            t["quoted_status_id_str"] = quoted["id_str"]
            t["quoted_status"] = quoted
            t["quoted_status_permalink"] = {
                "url": tco(quoted["id"] + 1),
                "expanded": "https://twitter.com/%s/status/%s" % (quoted["user"]["screen_name"], quoted["id_str"]),
                "display": "twitter.com/%s/status/%s\u2026" % (quoted["user"]["screen_name"], quoted["id_str"][:4]),
            }
    t["is_quote_status"] = True
    return t


def twitter_style(line):
    """The v1.1 stream's escaping: ASCII only, \\/ and \\u003c \\u003e."""
    return line.replace("/", "\\/").replace("<", "\\u003c").replace(">", "\\u003e")


def dump(obj, style="raw"):
    if style == "raw":
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if style == "ascii":
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return twitter_style(json.dumps(obj, ensure_ascii=True, separators=(",", ":")))


T0 = 1539202764657  # Wed Oct 10 20:19:24.657 UTC 2018


def v11_tweets():
    tw = []
    add = lambda t, style="raw": tw.append((t, style))

    t1 = status(T0, "devops_dan", "Cloud computing is just someone else's computer. Still true in 2018.", "en",
                source="tweetdeck")
    add(t1, "twitter")
    add(status(T0 + 1204, "sre_sarah",
               "Spent the whole day migrating our CI to the #cloud \u2014 computing costs dropped 40% \U0001F389",
               "en", source="iphone"))
    add(status(T0 + 2511, "awsmeetupsea",
               "Great talk on #CloudComputing at #AWSreInvent today! Slides: " + tco(3), "en",
               urls={tco(3): "https://www.slideshare.net/awsmeetup/reinvent-recap-2018"}, source="buffer"),
        "twitter")
    add(status(T0 + 3020, "ops_ollie", "@cloud computing question: why is egress so expensive? \U0001F914", "en",
               source="android"))
    add(status(T0 + 4133, "taco_tuesday", "Just had the best tacos in Austin \U0001F32E\U0001F32E #TacoTuesday", "en",
               source="iphone"))
    add(status(T0 + 5870, "lucia_dev",
               "La computación en la nube (cloud computing) está cambiando la forma de trabajar. "
               "¿Vosotros ya migrasteis? #tecnología", "es"))
    add(status(T0 + 6402, "yuki_eng",
               "Cloud computing 入門セミナーに参加しました！とても勉強になりました\U0001F60A #クラウド", "ja",
               source="iphone"), "twitter")
    add(status(T0 + 7719, "ramen_taro", "今日は渋谷でラーメンを食べました\U0001F35C クラウドコンピューティングの話もしたよ", "ja",
               source="iphone"))
    add(status(T0 + 8250, "omar_tech",
               "الحوسبة السحابية (Cloud Computing) هي مستقبل الأعمال، أليس كذلك؟ #تقنية", "ar",
               source="android"))
    add(status(T0 + 9931, "berlin_jobs",
               "Wir suchen eine*n DevOps-Engineer (m/w/d) für unser Cloud-Team in Berlin! Jetzt bewerben: "
               + tco(10) + " #Jobs #Cloud", "de",
               urls={tco(10): "https://jobs.example.de/devops-engineer-berlin?utm_source=twitter"}, source="buffer"),
        "twitter")
    add(status(T0 + 10488, "claire_fr",
               "Le «\u202fcloud computing\u202f», c\u2019est l\u2019avenir\u2026 ou pas\u202f? \U0001F914", "fr"))

    ext = status(T0 - 3600_000 * 5 + 1777, "cloudnative_kim",
                 "Thread \U0001F9F5 on what we learned after five years of running production workloads on "
                 "three different providers, from bare metal to Kubernetes to serverless. Short version: "
                 "cloud computing is a tool, not a strategy. Long version below \U0001F447 #DevOps #SRE",
                 "en", counts=(12, 40, 310, 1204), source="web")
    add(status(T0 + 11002, "cloudnative_kim",
               "Second thread \U0001F9F5: how we cut our monthly bill by a third without touching a single line of "
               "application code. Rightsizing, reserved capacity, and a hard look at cloud computing egress "
               "charges. Details \U0001F447 #FinOps", "en", source="web"))
    add(retweet(T0 + 12345, "sre_sarah", ext))
    add(quote(T0 + 13013, "ops_ollie", "Hot take, but this aged well \U0001F447", "en", t1))
    add(status(T0 + 14560, "sre_sarah",
               "@devops_dan Totally agree, cloud computing bills are brutal this quarter \U0001F4B8", "en",
               reply_to=t1, source="iphone"))
    add(status(T0 + 15021, "pixel_pam",
               "Cloud computing \U0001F600 with friends \U0001F469\u200D\U0001F4BB\U0001F468\u200D\U0001F4BB at the hackathon",
               "en", source="android"), "twitter")
    add(status(T0 + 16300, "ana_nuvem", "Computação em nuvem é o futuro! \u2601\uFE0F #nuvem #tecnologia", "pt"))
    add(status(T0 + 17044, "weather_seattle",
               "Clouds over Seattle again\u2026 computing how many days of rain we've had \u2614", "en",
               source="tweetdeck"))
    add(status(T0 + 18111, "lab_admin", "COMPUTING in the CLOUD, finally: our lab's cluster is gone. \U0001F680", "en"))
    add(status(T0 + 19250, "dev_priya", "क्लाउड कंप्यूटिंग के बारे में सीखना शुरू किया। #CloudComputing", "hi",
               source="android"))
    add(status(T0 + 20007, "seoul_dev", "클라우드 컴퓨팅 세미나 \U0001F389 cloud computing 최고!", "ko"), "twitter")
    add(status(T0 + 21500, "techwriter_tom", "New post: a gentle intro to serverless " + tco(22), "en",
               urls={tco(22): "https://www.example.com/blog/cloud-computing-101/"}, source="buffer"))
    add(status(T0 + 22718, "telco_news", "AT&amp;T moves its core network to cloud computing platforms", "en",
               source="tweetdeck"), "twitter")
    add(status(T0 + 23999, "fire_emoji", "\U0001F525\U0001F525\U0001F525", "und", source="iphone"))
    add(status(T0 + 25012, "devops_dan", "Our cloud-computing budget doubled. Again.", "en", source="tweetdeck"))
    return tw


def v2_user(sn, metrics=True):
    uid, name, followers, friends, statuses, verified, loc, desc, created = USERS[sn]
    u = {"id": str(uid), "name": name, "username": sn}
    if metrics:
        u["public_metrics"] = {"followers_count": followers, "following_count": friends,
                               "tweet_count": statuses, "listed_count": followers // 40}
    return u


def v2_entities(text, urls=None, unwound=False):
    """v2 entities: start/end in code points, hashtags as tag, mentions as username."""
    ents = {}
    tags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)} for m in HASHTAG.finditer(text)]
    if tags:
        ents["hashtags"] = tags
    ments = []
    for m in MENTION.finditer(text):
        sn = m.group(1)
        e = {"start": m.start(), "end": m.end(), "username": sn}
        if sn in USERS:
            e["id"] = str(USERS[sn][0])
        ments.append(e)
    if ments:
        ents["mentions"] = ments
    us = []
    for m in TCO.finditer(text):
        exp = urls[m.group(0)]
        e = {"start": m.start(), "end": m.end(), "url": m.group(0), "expanded_url": exp,
             "display_url": display(exp)}
        if unwound:
            e["unwound_url"] = exp
        us.append(e)
    if us:
        ents["urls"] = us
    return ents


T2 = 1665432000123  # 2022-10-10T20:00:00.123Z


def v2_tweet(ts, sn, text, lang, urls=None, note=None, refs=None, reply_to_user=None, metrics=(0, 0, 0, 0),
             unwound=False, seq=0):
    tid = str(snowflake(ts, seq))
    d = {"id": tid, "text": text, "author_id": str(USERS[sn][0]), "created_at": iso(ts),
         "edit_history_tweet_ids": [tid], "lang": lang, "conversation_id": tid,
         "possibly_sensitive": False, "reply_settings": "everyone"}
    if reply_to_user:
        d["in_reply_to_user_id"] = str(USERS[reply_to_user][0])
    if refs:
        d["referenced_tweets"] = refs
    ents = v2_entities(text, urls, unwound)
    if ents:
        d["entities"] = ents
    if note:
        d["note_tweet"] = {"text": note}
        nents = v2_entities(note, urls, unwound)
        if nents:
            d["note_tweet"]["entities"] = nents
    d["public_metrics"] = dict(zip(("retweet_count", "reply_count", "like_count", "quote_count"), metrics))
    return d


RULE_CC = {"id": "1579566213413609472", "tag": "cloud computing"}
RULE_AWS = {"id": "1579566213413609473", "tag": "aws"}


def v2_messages():
    msgs = []
    add = lambda m, style="raw": msgs.append((m, style))

    d1 = v2_tweet(T2, "sre_sarah", "Cloud computing costs are out of control. Time for a FinOps team? "
                  "#FinOps @awscloud", "en", metrics=(3, 1, 17, 0))
    add({"data": d1, "includes": {"users": [v2_user("sre_sarah")]}, "matching_rules": [RULE_CC]})

    note = ("Five lessons from a year of platform work:\n1. Boring tech wins.\n2. Budgets are features.\n"
            "3. Every dashboard needs an owner.\n4. Runbooks rot faster than code; review them every quarter.\n"
            "5. Write the postmortem even when nobody asks for it, and share it widely.\n\n"
            "Bonus: none of this is specific to cloud computing \u2014 it applies to any shared "
            "infrastructure, including the on-prem racks we still run. #PlatformEngineering")
    d2 = v2_tweet(T2 + 4021, "cloudnative_kim", note[:277] + "\u2026", "en", note=note, metrics=(51, 12, 488, 9))
    add({"data": d2, "includes": {"users": [v2_user("cloudnative_kim")]}, "matching_rules": [RULE_CC]})

    d3 = v2_tweet(T2 + 7300, "claire_fr", "@lucia_dev ¡Gracias por la charla sobre cloud computing! \U0001F64C", "es",
                  refs=[{"type": "replied_to", "id": str(snowflake(T2 - 86400000))}], reply_to_user="lucia_dev")
    add({"data": d3, "includes": {"users": [v2_user("claire_fr"), v2_user("lucia_dev")]},
         "matching_rules": [RULE_CC]})

    d4 = v2_tweet(T2 + 9055, "yuki_eng", "クラウド移行プロジェクト、ようやく完了しました\U0001F389 #cloud computing の勉強も続けます",
                  "ja", metrics=(0, 0, 4, 0))
    add({"data": d4, "includes": {"users": [v2_user("yuki_eng")]}, "matching_rules": [RULE_CC]})

    orig = v2_tweet(T2 - 7200000, "cloudnative_kim",
                    "Unpopular opinion: most \"cloud computing\" outages I've seen were config changes, not hardware. "
                    "Invest in staged rollouts and fast rollback before you invest in multi-region. "
                    "Your future on-call self will thank you. #SRE", "en", metrics=(220, 31, 1802, 14))
    rt_text = ("RT @cloudnative_kim: " + orig["text"])[:140] + "\u2026"
    d5 = v2_tweet(T2 + 12000, "devops_dan", rt_text, "en", refs=[{"type": "retweeted", "id": orig["id"]}])
    add({"data": d5, "includes": {"users": [v2_user("devops_dan"), v2_user("cloudnative_kim")],
                                  "tweets": [orig]}, "matching_rules": [RULE_CC]})

    d6 = v2_tweet(T2 + 15500, "ops_ollie", "Worth reading \U0001F447", "en",
                  refs=[{"type": "quoted", "id": orig["id"]}])
    add({"data": d6, "includes": {"users": [v2_user("ops_ollie"), v2_user("cloudnative_kim")],
                                  "tweets": [orig]}, "matching_rules": [RULE_CC]})

    link = tco(77)
    d7 = v2_tweet(T2 + 18001, "awscloud", "New #AWS Region announced in Spain \U0001F1EA\U0001F1F8 " + link, "en",
                  urls={link: "https://aws.amazon.com/blogs/aws/now-open-aws-europe-spain-region/"},
                  unwound=True, metrics=(410, 52, 2903, 61))
    add({"data": d7, "includes": {"users": [v2_user("awscloud")]},
         "matching_rules": [{"id": 1579566213413609473, "tag": "aws"}]})

    d8 = v2_tweet(T2 + 20444, "berlin_jobs", "Cloud Computing für Einsteiger \U0001F600 \u2013 jetzt anmelden!", "de")
    add({"data": d8, "includes": {"users": [v2_user("berlin_jobs")]}, "matching_rules": [RULE_CC]}, "ascii")

    tid = str(snowflake(T2 + 23000))
    add({"data": {"edit_history_tweet_ids": [tid], "id": tid,
                  "text": "aws re:Invent keynote starts in 10 minutes, grab a coffee \u2615"},
         "matching_rules": [RULE_AWS]})
    return msgs


def control_lines(t1, t2):
    """t1, t2: tweets of v11_tweets.ndjson that the delete notices name."""
    return [
        '{"delete":{"status":{"id":%d,"id_str":"%d","user_id":%d,"user_id_str":"%d"},'
        '"timestamp_ms":"1539203000001"}}' % (t1["id"], t1["id"], t1["user"]["id"], t1["user"]["id"]),
        '{"delete":{"status":{"id":%d,"id_str":"%d","user_id":%d,"user_id_str":"%d"},'
        '"timestamp_ms":"1539203001002"}}' % (t2["id"], t2["id"], t2["user"]["id"], t2["user"]["id"]),
        '',
        '{"limit":{"track":1234,"timestamp_ms":"1539203002003"}}',
        '{"warning":{"code":"FALLING_BEHIND","message":"Your connection is falling behind and messages are being '
        'queued for delivery to you. Your queue is now over 60% full. You will be disconnected when the queue is '
        'full.","percent_full":60}}',
        '{"scrub_geo":{"user_id":14090452,"user_id_str":"14090452","up_to_status_id":23260136625,'
        '"up_to_status_id_str":"23260136625"}}',
        '',
        '',
        '{"status_withheld":{"id":%d,"user_id":14176,"withheld_in_countries":["DE","AR"],'
        '"timestamp_ms":"1539203003004"}}' % t1["id"],
        '{"user_withheld":{"id":14176,"withheld_in_countries":["DE","AR"],"timestamp_ms":"1539203004005"}}',
        '{"disconnect":{"code":12,"stream_name":"tweetmatch-statuses_filter","reason":"Shed load"}}',
        '{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect",'
        '"detail":"This stream has been disconnected upstream for operational reasons.",'
        '"type":"https://api.twitter.com/2/problems/operational-disconnect"}]}',
        '',
    ]


DEEP = '{"a":' * 1100 + '1' + '}' * 1100

BROKEN = [
    '{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"id_str":"10501186',
    '"just a string"',
    '[1,2,3]',
    '42',
    'null',
    'true',
    'not json at all',
    '{"id_str":"1","text":"bad escape \\x41"}',
    '{"id_str":"2","text":"unterminated string}',
    '{"id_str":"3","text":"trailing garbage"} x',
    '{"id_str":"4","text":"lone surrogate \\ud83d"}',
    '{"id_str":"5",}',
    '{,}',
    ']',
    DEEP,
]


def main():
    tweets = v11_tweets()
    v11 = [dump(t, style) for t, style in tweets]
    v2 = [dump(m, style) for m, style in v2_messages()]
    ctl = control_lines(tweets[0][0], tweets[14][0])
    files = {
        "v11_tweets.ndjson": v11,
        "v2_stream.ndjson": v2,
        "control.ndjson": ctl,
        "broken.ndjson": BROKEN,
        "mixed.ndjson": [v11[0], "", ctl[0], v2[0], BROKEN[0], ctl[3], v11[11], BROKEN[1], v2[8],
                         BROKEN[2], v11[4], ctl[4], "", BROKEN[8], v11[13], ctl[11], v2[1]],
    }
    for name, lines in files.items():
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line + "\n")

    # Well-formed JSON whose strings are not UTF-8: a byte 0xFF, an overlong
    # "/" (C0 AF) and a UTF-16 surrogate encoded as UTF-8 (ED A0 BD). An item
    # holding such text is a rule error; the helpers must not fail on it.
    bad = []
    for n, junk in enumerate((b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\xbd")):
        t = dict(tweets[0][0])
        t["id"] = t["id"] + n + 1
        t["id_str"] = str(t["id"])
        t["text"] = "Cloud computing @@JUNK@@ in the text"
        bad.append(dump(t).encode("utf-8").replace(b"@@JUNK@@", junk))
    with open(os.path.join(OUT, "invalid_utf8.ndjson"), "wb") as f:
        for line in bad:
            f.write(line + b"\n")


if __name__ == "__main__":
    main()
