using System.Diagnostics;
using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>
/// Two real-time ffmpeg Smooth encoders (one with audio) into one point: a dynamic MPD while they push that
/// ffmpeg reads, whose timeline matches the segments' own times and the wall clock; a static MPD once they end
/// that ffprobe and ffmpeg read whole.
/// </summary>
public sealed class DashLiveToVodTests
{
    private const string Point = "live/dash.isml";
    private const double Seconds = 14;
    private const int FramesPerSecond = 25;

    [Fact]
    public async Task MpdIsDynamicWhileLiveAndStaticAfterTheEncodersEnd()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var withAudio = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(hi)"), new EncoderSettings { VideoKbps = 600, Width = 640, Height = 360, Seconds = Seconds }, stop.Token);
        var videoOnly = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(lo)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = Seconds }, stop.Token);
        var mpdUrl = server.Url($"{Point}/manifest.mpd");

        // Live: both video renditions and the audio, three segments each.
        var (live, response, fetchedAt, answeredAt) = await WaitForMpdAsync(server, m => m.Video.Count() == 2 && m.Audio.Any() && m.Video.Concat(m.Audio).All(r => r.Segments.Count >= 3));
        var copy = Tool.RunAsync("ffmpeg", ["-v", "error", "-i", mpdUrl.ToString(), "-c", "copy", "-t", "3", "-f", "null", "-"], TimeSpan.FromSeconds(30));

        Assert.Equal("application/dash+xml", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.True(live.IsDynamic, live.Root.ToString());
        Assert.Contains("urn:mpeg:dash:profile:isoff-live:2011", live.Attribute("profiles")!.Split(','));
        Assert.Equal(TimeSpan.FromSeconds(10), live.Duration("timeShiftBufferDepth"));
        Assert.NotNull(live.Duration("suggestedPresentationDelay"));
        Assert.NotNull(live.Duration("minBufferTime"));
        Assert.Null(live.Attribute("mediaPresentationDuration"));
        var updatePeriod = live.Duration("minimumUpdatePeriod")!.Value;
        Assert.InRange(updatePeriod.TotalSeconds, 1.9, 2.1);
        var publishTime = live.Date("publishTime")!.Value;
        // Made for this request or kept from one up to half a segment before it: from before it was sent (less that) to
        // when its answer came (a loaded machine may take seconds to answer).
        Assert.InRange(publishTime, fetchedAt.AddSeconds(-3), answeredAt.AddSeconds(1));
        Assert.Equal("PT0S", (string?)live.Root.Element(MpdView.Ns + "Period")!.Attribute("start"));

        // Caching: at most half a segment while live, and the ETag revalidates.
        Assert.True(response.Headers.CacheControl?.MaxAge <= TimeSpan.FromSeconds(1), $"live MPD max-age {response.Headers.CacheControl}");
        using (var revalidate = new HttpRequestMessage(HttpMethod.Get, mpdUrl))
        {
            revalidate.Headers.IfNoneMatch.Add(response.Headers.ETag!);
            var again = await server.Http.SendAsync(revalidate);
            Assert.True(again.StatusCode == HttpStatusCode.NotModified || again.Headers.ETag != response.Headers.ETag, $"{again.StatusCode} {again.Headers.ETag}");
        }

        // The server's clock the MPD points at.
        var timing = live.Root.Element(MpdView.Ns + "UTCTiming")!;
        Assert.Equal("urn:mpeg:dash:utc:http-iso:2014", (string?)timing.Attribute("schemeIdUri"));
        // Relative to the MPD's own URL, as players resolve it.
        var timeResponse = await server.Http.GetAsync(new Uri(mpdUrl, (string)timing.Attribute("value")!));
        Assert.Equal("*", timeResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var serverTime = DateTimeOffset.Parse(await timeResponse.Content.ReadAsStringAsync(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        Assert.InRange((serverTime - DateTimeOffset.UtcNow).TotalSeconds, -2, 2);

        var videoSet = live.AdaptationSets.Single(s => s.ContentType == "video");
        Assert.Equal("true", (string?)videoSet.Element.Attribute("segmentAlignment"));
        Assert.Equal("video/mp4", (string?)videoSet.Element.Attribute("mimeType"));
        var video = live.Video.ToList();
        Assert.Equal(["320x180", "640x360"], video.Select(r => $"{r.Attribute("width")}x{r.Attribute("height")}").Order());
        Assert.All(video, r =>
        {
            Assert.Matches(@"^avc1\.[0-9a-f]{6}$", r.Codecs);
            Assert.Equal("25", r.Attribute("frameRate"));
            Assert.InRange(r.Bandwidth, 250_000, 3_000_000);
        });
        var audio = live.Audio.Single();
        Assert.Equal("mp4a.40.2", audio.Codecs);
        Assert.Equal("48000", audio.Attribute("audioSamplingRate"));
        Assert.Equal("1", (string?)audio.Element.Element(MpdView.Ns + "AudioChannelConfiguration")?.Attribute("value"));

        // Each segment's own earliest presentation time is its S@t, and the last one ended about now by the
        // availabilityStartTime: what a client computes its live edge from.
        var availabilityStart = live.Date("availabilityStartTime")!.Value;
        foreach (var representation in live.Video.Concat(live.Audio))
        {
            var init = await server.Http.GetAsync(server.Url($"{Point}/{representation.InitializationUrl}"));
            Assert.Equal(HttpStatusCode.OK, init.StatusCode);
            Assert.Equal("video/mp4", init.Content.Headers.ContentType?.MediaType);
            foreach (var segment in representation.Segments)
            {
                var bytes = await server.Http.GetByteArrayAsync(server.Url($"{Point}/{representation.MediaUrl(segment)}"));
                var (earliest, end, samples) = CmafSegmentTimes.Read(bytes);
                Assert.True(samples > 0, $"{representation.Id} #{segment.Number} is empty");
                Assert.Equal(segment.Time, earliest);
                Assert.InRange(end - (segment.Time + segment.Duration), -representation.Timescale / 100, representation.Timescale / 100);
            }

            var edge = availabilityStart + TimeSpan.FromSeconds(representation.EndSeconds);
            Assert.InRange(edge, fetchedAt.AddSeconds(-3.5), answeredAt.AddSeconds(1.5));
        }

        var copied = await copy;
        Assert.True(copied.ExitCode == 0, Tool.Describe(copied));

        Assert.Equal(0, (await withAudio).ExitCode);
        Assert.Equal(0, (await videoOnly).ExitCode);

        // VOD: static, every segment from the first, the pushed duration.
        var (vod, vodResponse, _, _) = await WaitForMpdAsync(server, m => !m.IsDynamic);
        Assert.Equal("static", vod.Type);
        Assert.True(vodResponse.Headers.CacheControl?.MaxAge >= TimeSpan.FromMinutes(1), $"VOD MPD caching: {vodResponse.Headers.CacheControl}");
        Assert.Null(vod.Attribute("minimumUpdatePeriod"));
        Assert.InRange(vod.Duration("mediaPresentationDuration")!.Value.TotalSeconds, Seconds - 2, Seconds + 2);
        Assert.All(vod.Video.Concat(vod.Audio), r =>
        {
            Assert.Equal(0, r.Segments[0].Number);
            Assert.InRange(r.EndSeconds, Seconds - 2, Seconds + 0.1);
        });
        Assert.Equal(7, vod.Video.First().Segments.Count);

        var probe = await Tool.ProbeAsync(mpdUrl.ToString(), "-show_entries", "format=duration:stream=codec_name,width", "-of", "compact");
        Assert.Contains("codec_name=h264|width=320", probe, StringComparison.Ordinal);
        Assert.Contains("codec_name=h264|width=640", probe, StringComparison.Ordinal);
        Assert.Contains("codec_name=aac", probe, StringComparison.Ordinal);
        var duration = double.Parse(probe.Split('\n').Single(l => l.StartsWith("format|duration=", StringComparison.Ordinal))["format|duration=".Length..], CultureInfo.InvariantCulture);
        Assert.InRange(duration, Seconds - 2, Seconds + 2);

        var output = Path.Combine(TempDirectory.Create("pp-dash-out"), "video.mp4");
        var remux = await Tool.RunAsync("ffmpeg", ["-v", "error", "-i", mpdUrl.ToString(), "-map", "0:v:0", "-c", "copy", "-f", "mp4", output], TimeSpan.FromSeconds(30));
        Assert.True(remux.ExitCode == 0, Tool.Describe(remux));
        var frames = await Tool.ProbeAsync(output, "-count_packets", "-select_streams", "v:0", "-show_entries", "stream=nb_read_packets", "-of", "default=nw=1:nk=1");
        Assert.InRange(int.Parse(frames.Trim(), CultureInfo.InvariantCulture), (Seconds * FramesPerSecond) - 2, (Seconds * FramesPerSecond) + 2);
    }

    /// <summary>
    /// An encoder that stamps wall-clock time (ffmpeg's -output_ts_offset with the Unix time, as when one encoder feeds
    /// several origins): a live MPD keeps media time 0 as period time 0, so every origin agrees. The static MPD it became
    /// kept that origin, so its first segment started 1.7 billion seconds into the period: ffprobe reported that as the
    /// duration and dash.js searched the lead-in for a segment. A static MPD now starts at its first segment, and so does
    /// a time-shifted window of it.
    /// </summary>
    [Fact]
    public async Task AStaticMpd_StartsAtItsFirstSegment_WhenTheEncoderStampsWallClockTime()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartWithClockAsync(clock, "--PublishingPoint:FinalizeGraceSeconds=10");
        const long WallClock = 1_765_000_000L * 10_000_000; // December 2025 in ticks of the ismv clock
        var body = IsmvCapture.Later(IsmvCapture.WithoutEnd(await IsmvCapture.SixSecondsAsync()), WallClock);
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/wall.isml/Streams(a)", body);
        Assert.True(status == HttpStatusCode.OK, text);
        var live = MpdView.Parse(await server.Http.GetStringAsync("live/wall.isml/manifest.mpd"));
        Assert.True(live.IsDynamic, "read after the point finished: the live origin was not kept");

        // The encoder's grace runs out on the server's clock: the point finishes.
        var mpdUrl = server.Url("live/wall.isml/manifest.mpd");
        clock.Advance(TimeSpan.FromSeconds(11));
        await Eventually.WaitUntilAsync(async () => !MpdView.Parse(await server.Http.GetStringAsync(mpdUrl)).IsDynamic, "the point to be finalised");
        var vod = MpdView.Parse(await server.Http.GetStringAsync(mpdUrl));
        Assert.Equal("static", vod.Type);
        Assert.InRange(vod.Duration("mediaPresentationDuration")!.Value.TotalSeconds, 5, 7);
        var starts = vod.Video.Concat(vod.Audio).Select(r => (double)(r.Segments[0].Time - r.PresentationTimeOffset) / r.Timescale).ToList();
        Assert.All(starts, start => Assert.InRange(start, 0, 0.1));
        Assert.Contains(0, starts.Select(s => Math.Round(s, 3)));
        var probe = await Tool.ProbeAsync(mpdUrl.ToString(), "-show_entries", "format=duration", "-of", "default=nw=1:nk=1");
        Assert.InRange(double.Parse(probe.Trim(), CultureInfo.InvariantCulture), 5, 7);

        // A window of the finished point from within its second segment on, by the wall clock the live MPD gave it.
        var liveVideo = live.Video.First();
        var from = live.Date("availabilityStartTime")!.Value + TimeSpan.FromSeconds(((double)(liveVideo.Segments[1].Time - liveVideo.PresentationTimeOffset) / liveVideo.Timescale) + 0.5);
        var query = string.Create(CultureInfo.InvariantCulture, $"?start={from.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fff}Z&end={from.AddSeconds(3).UtcDateTime:yyyy-MM-ddTHH:mm:ss.fff}Z");
        var window = MpdView.Parse(await server.Http.GetStringAsync($"live/wall.isml/manifest.mpd{query}"));
        Assert.Equal("static", window.Type);
        Assert.Equal(liveVideo.Segments[1].Time, window.Video.First().Segments[0].Time);
        Assert.All(window.Video.Concat(window.Audio), r => Assert.InRange((double)(r.Segments[0].Time - r.PresentationTimeOffset) / r.Timescale, 0, 0.1));
        Assert.InRange(window.Duration("mediaPresentationDuration")!.Value.TotalSeconds, 1.5, 4.5);
    }

    /// <summary>
    /// One encoder of a point stopped (its bitrate's feed ended) while another went on: its representation stayed in the
    /// live MPD with its last segments, long out of the time-shift buffer, and a player whose ABR picked it waited at the
    /// live edge for segments that never came. A window behind the point's edge, it is left out.
    /// </summary>
    [Fact]
    public async Task ALiveMpd_LeavesOutARepresentationWhoseEncoderStoppedAWindowAgo()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:FinalizeGraceSeconds=3600");
        var stopped = IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(6, 600, 0, 640, 360));
        var going = IsmvCapture.WithoutEnd(await IsmvCapture.MakeAsync(30, 300, 0));
        foreach (var (stream, body) in new[] { ("hi", stopped), ("lo", going) })
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, $"live/stop.isml/Streams({stream})", body);
            Assert.True(status == HttpStatusCode.OK, text);
        }

        var mpd = MpdView.Parse(await server.Http.GetStringAsync("live/stop.isml/manifest.mpd"));
        Assert.True(mpd.IsDynamic);
        var video = Assert.Single(mpd.Video);
        Assert.Equal("320", video.Attribute("width"));
        Assert.InRange(video.EndSeconds, 28, 31);
    }

    private static async Task<(MpdView Mpd, HttpResponseMessage Response, DateTimeOffset FetchedAt, DateTimeOffset AnsweredAt)> WaitForMpdAsync(RunningServer server, Func<MpdView, bool> ready)
    {
        var clock = Stopwatch.StartNew();
        var last = "(none)";
        while (clock.Elapsed < TimeSpan.FromSeconds(25))
        {
            var fetchedAt = DateTimeOffset.UtcNow;
            var response = await server.Http.GetAsync($"{Point}/manifest.mpd");
            var answeredAt = DateTimeOffset.UtcNow;
            if (response.IsSuccessStatusCode)
            {
                last = await response.Content.ReadAsStringAsync();
                var mpd = MpdView.Parse(last);
                if (ready(mpd))
                {
                    return (mpd, response, fetchedAt, answeredAt);
                }
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"MPD not ready on {server.BaseUrl}; last:\n{last}");
    }

    /// <summary>
    /// An encoder that came back after an outage leaves a gap in the segments' numbering and in time. A static MPD
    /// numbered them ($Number$), so it listed only the run after the last gap: the event's start was gone from the VOD.
    /// Then one Period named them by time ($Time$) with the outage as a hole in its timeline, where dash.js stopped: it
    /// played the first segment and waited. Now each stretch the encoder fed is a Period of its own, the next starting
    /// where the one before ends; dash.js plays the whole event, asking for every segment.
    /// </summary>
    [Fact]
    public async Task AStaticMpd_ListsEverySegment_AcrossAnOutage_OnePeriodAStretch_AndDashJsPlaysItAll()
    {
        await using var server = await RunningServer.StartAsync();
        var (header, fragments) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        const long Outage = 30L * 10_000_000; // 30 s on the ismv clock (10 MHz)
        byte[] body = [.. header, .. fragments.Take(2).SelectMany(f => f), .. fragments.Skip(2).SelectMany(f => Boxes.ShiftTfxd(f, Outage))];
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/gap.isml/Streams(a)", body);
        Assert.True(status == HttpStatusCode.OK, text);

        var mpd = MpdView.Parse(await server.Http.GetStringAsync("live/gap.isml/manifest.mpd"));
        Assert.False(mpd.IsDynamic);
        Assert.Equal(2, mpd.Periods.Count);
        Assert.Equal([1, 2], mpd.Periods.Select(p => Assert.Single(p.Video).Segments.Count));
        Assert.InRange(mpd.Periods[1].Start.TotalSeconds, 1.9, 2.2); // the outage's 30 s are left out
        Assert.InRange(mpd.Duration("mediaPresentationDuration")!.Value.TotalSeconds, 5.9, 6.3);
        foreach (var period in mpd.Periods)
        {
            foreach (var representation in period.Video.Concat(period.Audio))
            {
                Assert.InRange((double)(representation.Segments[0].Time - representation.PresentationTimeOffset) / representation.Timescale, 0, 0.1);
                foreach (var segment in representation.Segments)
                {
                    using var response = await server.Http.GetAsync($"live/gap.isml/{representation.MediaUrl(segment)}");
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{representation.MediaUrl(segment)}: {(int)response.StatusCode}");
                }
            }
        }

        var played = await DashJsPlayback.PlayAsync(server.Url("live/gap.isml/manifest.mpd").ToString(), until: 5.5);
        Assert.True(played.Time >= 5.5 && played.Errors.Length == 0, played.Describe);
        Assert.All(mpd.Video, v => Assert.All(v.Segments, s => Assert.Contains(played.Requested, r => r.EndsWith("/" + v.MediaUrl(s), StringComparison.Ordinal))));
    }
}
