#!/usr/bin/env python3
"""pipeline_original.py: the original Python task's logic, for the pipeline
benchmark (pipeline.sh). Not part of tweetmatch.

The published Fargate task ran a tweepy StreamListener whose on_data decoded
each tweet and wrote it with boto3, creating the DynamoDB resource inside
on_data, i.e. one client per tweet:

    def on_data(self, data):
        tweet = json.loads(data)
        dynamodb = boto3.resource('dynamodb', region_name=AWSREGION)
        table = dynamodb.Table(DYNAMODBTABLE)
        table.put_item(Item={...})

This file keeps that logic, with the same item tweetmatch's default rule
writes (id, user, date, full text), and two modes:
  --mode published   a new boto3 resource per tweet, as published;
  --mode reused      one resource made at start-up and reused (the obvious fix).
tweepy is replaced by the least a stream reader does (http.client, one line
per message, keep-alives skipped), so the figures charge the original with
nothing tweetmatch does not also do. It reads COUNT tweets, then exits.

    pipeline_original.py --mode MODE --url STREAM_URL --table T --region R
                         --endpoint URL --count N
AWS credentials come from the environment, as boto3 reads them.
"""
import argparse
import http.client
import json
import sys
import urllib.parse

import boto3


class Listener:
    def __init__(self, table, region, endpoint, reuse):
        self.table_name, self.region, self.endpoint = table, region, endpoint
        self.table = self.make_table() if reuse else None
        self.written = 0

    def make_table(self):
        dynamodb = boto3.resource("dynamodb", region_name=self.region, endpoint_url=self.endpoint)
        return dynamodb.Table(self.table_name)

    def on_data(self, data):
        tweet = json.loads(data)
        if "delete" in tweet or "limit" in tweet or "id_str" not in tweet:
            return True
        text = tweet.get("extended_tweet", {}).get("full_text") or tweet.get("full_text") or tweet["text"]
        table = self.table or self.make_table()
        table.put_item(Item={"id": tweet["id_str"], "user": tweet["user"]["screen_name"],
                             "date": tweet["created_at"], "text": text})
        self.written += 1
        return True


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("published", "reused"), required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--count", type=int, required=True)
    a = ap.parse_args(argv)
    listener = Listener(a.table, a.region, a.endpoint, a.mode == "reused")
    u = urllib.parse.urlsplit(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=90)
    conn.request("GET", u.path + ("?" + u.query if u.query else ""))
    resp = conn.getresponse()
    if resp.status != 200:
        sys.exit("stream: HTTP %d" % resp.status)
    n = 0
    while n < a.count:
        line = resp.readline()
        if not line:
            sys.exit("stream ended after %d tweets" % n)
        line = line.strip()
        if not line:
            continue  # keep-alive
        listener.on_data(line)
        n += 1
    conn.close()
    print(json.dumps({"tweets": n, "written": listener.written}))


if __name__ == "__main__":
    main(sys.argv[1:])
