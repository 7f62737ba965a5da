using System.Diagnostics;
using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>After the encoders end the point is VOD: complete playlists that players decode without errors.</summary>
public sealed class HlsVodTests
{
    private const string Point = "vod/hls.isml";
    private const double Seconds = 10;

    [Fact]
    public async Task FinishedPointServesCompleteTsAndFmp4Playlists()
    {
        await using var server = await RunningServer.StartAsync();
        var pushes = await Task.WhenAll(
            Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(hi)"), new EncoderSettings { VideoKbps = 600, Width = 640, Height = 360, Seconds = Seconds, RealTime = false }),
            Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(lo)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = Seconds, RealTime = false }));
        Assert.All(pushes, p => Assert.True(p.ExitCode == 0, Tool.Describe(p)));

        var master = await server.Http.GetStringAsync($"{Point}/master.m3u8");
        var variants = HlsText.AttributeLines(master, "#EXT-X-STREAM-INF");
        Assert.Equal(3, variants.Count); // two video variants, then the packed-audio one
        var tsPlaylist = variants[0].Uri!;
        var media = await WaitForEndListAsync(server, $"{Point}/{tsPlaylist}");

        Assert.Equal("VOD", HlsText.Tag(media, "#EXT-X-PLAYLIST-TYPE"));
        Assert.Equal(0, HlsText.LongTag(media, "#EXT-X-MEDIA-SEQUENCE"));
        var segments = HlsText.Segments(media);
        Assert.Equal(5, segments.Count);
        Assert.InRange(segments.Sum(s => s.Duration), Seconds - 2, Seconds + 0.1);
        var response = await server.Http.GetAsync($"{Point}/{tsPlaylist}");
        Assert.True(response.Headers.CacheControl?.MaxAge >= TimeSpan.FromMinutes(1), $"VOD playlist caching: {response.Headers.CacheControl}");

        // gzip when asked, same text
        using var gzipRequest = new HttpRequestMessage(HttpMethod.Get, $"{Point}/{tsPlaylist}");
        gzipRequest.Headers.AcceptEncoding.ParseAdd("gzip");
        var gzipped = await server.Http.SendAsync(gzipRequest);
        Assert.Equal("gzip", gzipped.Content.Headers.ContentEncoding.Single());
        await using (var unzip = new System.IO.Compression.GZipStream(await gzipped.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress))
        using (var text = new StreamReader(unzip))
        {
            Assert.Equal(media, await text.ReadToEndAsync());
        }

        var tsUrl = server.Url($"{Point}/{tsPlaylist}").ToString();
        var fmp4Master = await server.Http.GetStringAsync($"{Point}/master-fmp4.m3u8");
        var audio = HlsText.AttributeLines(fmp4Master, "#EXT-X-MEDIA").Single().Attributes;
        Assert.Equal("AUDIO", audio["TYPE"]);
        var fmp4Variants = HlsText.AttributeLines(fmp4Master, "#EXT-X-STREAM-INF");
        Assert.All(fmp4Variants, v => Assert.Equal(audio["GROUP-ID"], v.Attributes["AUDIO"]));
        // The audio-only variant (Apple's cellular fallback) comes last and plays the audio rendition; no captions here.
        var audioOnly = fmp4Variants[^1];
        Assert.False(audioOnly.Attributes.ContainsKey("RESOLUTION"));
        Assert.Equal(audio["URI"], audioOnly.Uri);
        Assert.StartsWith("mp4a.40.", audioOnly.Attributes["CODECS"], StringComparison.Ordinal);
        Assert.All(fmp4Variants.Concat(variants), v => Assert.Equal("NONE", v.Attributes["CLOSED-CAPTIONS"]));
        var videoVariants = fmp4Variants.Where(v => v.Attributes.ContainsKey("RESOLUTION")).ToList();
        Assert.Equal(fmp4Variants.Count - 1, videoVariants.Count);
        var fmp4Video = server.Url($"{Point}/{videoVariants[^1].Uri}").ToString();
        var fmp4Audio = server.Url($"{Point}/{audio["URI"]}").ToString();
        var fmp4Text = await server.Http.GetStringAsync(fmp4Video);
        Assert.Equal("6", HlsText.Tag(fmp4Text, "#EXT-X-VERSION"));
        Assert.NotNull(HlsText.Tag(fmp4Text, "#EXT-X-MAP"));
        Assert.Contains("#EXT-X-ENDLIST", fmp4Text, StringComparison.Ordinal);

        // Every segment of every playlist is served (players skip a failing segment and carry on).
        foreach (var playlist in new[] { tsPlaylist, videoVariants[^1].Uri!, audio["URI"] })
        {
            var text = await server.Http.GetStringAsync($"{Point}/{playlist}");
            foreach (var (_, uri) in HlsText.Segments(text))
            {
                var segment = await server.Http.GetAsync($"{Point}/hls/{uri}");
                Assert.True(segment.StatusCode == HttpStatusCode.OK, $"{playlist} -> {uri}: {(int)segment.StatusCode}");
            }
        }

        // BANDWIDTH and AVERAGE-BANDWIDTH as RFC 8216bis 4.4.6.2 defines them, measured on the TS segments served.
        var tsText = await server.Http.GetStringAsync($"{Point}/{tsPlaylist}");
        double peak = 0, bits = 0, seconds = 0;
        foreach (var (duration, uri) in HlsText.Segments(tsText))
        {
            var length = (await server.Http.GetByteArrayAsync($"{Point}/hls/{uri}")).Length;
            peak = Math.Max(peak, length * 8 / duration);
            bits += length * 8;
            seconds += duration;
        }

        // The VOD master's (the first one fetched may be the live one's, rendered before the last segment was listed:
        // a CI run caught its peak below the finished playlist's).
        var vodVariant = HlsText.AttributeLines(await server.Http.GetStringAsync($"{Point}/master.m3u8"), "#EXT-X-STREAM-INF")[0];
        Assert.Equal(tsPlaylist, vodVariant.Uri);
        var declared = (Peak: double.Parse(vodVariant.Attributes["BANDWIDTH"], CultureInfo.InvariantCulture), Average: double.Parse(vodVariant.Attributes["AVERAGE-BANDWIDTH"], CultureInfo.InvariantCulture));
        var measured = string.Create(CultureInfo.InvariantCulture, $"declared {declared}, measured peak {peak:0} average {bits / seconds:0}");
        Assert.True(declared.Peak >= peak && declared.Peak <= peak * 1.2, measured);
        Assert.True(declared.Average >= bits / seconds * 0.9 && declared.Average <= bits / seconds * 1.1, measured);

        var checks = await Task.WhenAll(
            Tool.ProbeAsync(tsUrl, "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"),
            Tool.ProbeAsync(fmp4Video, "-show_entries", "format=duration", "-of", "default=nw=1:nk=1"));
        Assert.All(checks, d => Assert.InRange(double.Parse(d.Trim(), CultureInfo.InvariantCulture), Seconds - 2, Seconds + 2));

        // Full decodes: any error ffmpeg prints (timestamps, bitstream, demux) fails the test.
        foreach (var url in new[] { tsUrl, fmp4Video, fmp4Audio })
        {
            var decode = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", url, "-f", "null", "-"], TimeSpan.FromSeconds(30));
            Assert.True(decode.ExitCode == 0 && decode.StdErr.Length == 0, $"{url}: {Tool.Describe(decode)}");
        }

        var tsStreams = await Tool.ProbeAsync(tsUrl, "-show_entries", "stream=codec_name", "-of", "compact");
        Assert.Contains("codec_name=aac", tsStreams, StringComparison.Ordinal);
        var unknown = await server.Http.GetAsync($"{Point}/hls/video-1/0.ts");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private static async Task<string> WaitForEndListAsync(RunningServer server, string relative)
    {
        var clock = Stopwatch.StartNew();
        string text = string.Empty;
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            text = await server.Http.GetStringAsync(relative);
            if (text.Contains("#EXT-X-ENDLIST", StringComparison.Ordinal))
            {
                return text;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"no EXT-X-ENDLIST after the encoders ended:\n{text}");
    }
}
