using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Ingest;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Reliability;

/// <summary>
/// The hostile shapes the security review found, generated with random sizes and counts (seeded, reproducible) against
/// one running server: headers that alternate, fragments stamped far ahead, huge boxes trickled then dropped, floods
/// of time-shift queries. Every answer is a clean status, a point that a clean push fed keeps serving the same bytes,
/// and what ingest holds, the files open and the rendered-output caches stay bounded.
/// </summary>
public sealed class HostileFuzzTests
{
    [Fact]
    public async Task HostileCases_GetCleanAnswers_AndLeaveNothingGrowing()
    {
        var (headerA, fragmentsA) = Boxes.SplitFragments(await IsmvCapture.SixSecondsAsync());
        var (headerB, fragmentsB) = Boxes.SplitFragments(await IsmvCapture.MakeAsync(4, 300, 48));
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxPoints=40", "--PublishingPoint:MaxArchiveRunsPerStream=6");
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/good.isml/Streams(a)", [.. headerA, .. fragmentsA.SelectMany(f => f)])).Status);
        var good = await SmoothManifestView.FetchVodAsync(server.Http, "live/good.isml/Manifest");
        var fragmentUrl = good.Url("video", 400000, good.ChunkTimes("video")[1]);
        var before = await server.Http.GetByteArrayAsync(fragmentUrl);
        var memory = server.Services.GetRequiredService<IngestMemory>();
        var registry = server.Services.GetRequiredService<PointRegistry>();

        var failures = new List<string>();
        for (var i = 0; i < 32; i++)
        {
            var random = new Random(unchecked((11 * 1_000_003) + i));
            var point = $"live/hostile{i % 8}.isml";
            var kind = i % 4;
            string describe;
            HttpStatusCode status;
            switch (kind)
            {
                case 0:
                {
                    var switches = random.Next(4, 40);
                    var body = new List<byte>();
                    for (var s = 0; s < switches; s++)
                    {
                        body.AddRange(s % 2 == 0 ? headerA : headerB);
                        body.AddRange(s % 2 == 0 ? fragmentsA[random.Next(fragmentsA.Count)] : fragmentsB[random.Next(fragmentsB.Count)]);
                    }

                    describe = $"case {i}: {switches} alternating headers";
                    (status, _) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(flip)", [.. body]);
                    Expect(failures, describe, status, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
                    break;
                }

                case 1:
                {
                    var seconds = (long)Math.Pow(10, random.Next(3, 10));
                    var which = random.Next(1, fragmentsA.Count);
                    var future = Boxes.ShiftTfxd(fragmentsA[which], seconds * 10_000_000);
                    describe = $"case {i}: fragment {which} moved {seconds} s ahead";
                    (status, _) = await Posting.PostChunkedAsync(server.Http, $"{point}/Streams(ahead)", [.. headerA, .. fragmentsA[0], .. future, .. fragmentsA[1]]);
                    Expect(failures, describe, status, HttpStatusCode.BadRequest);
                    break;
                }

                case 2:
                {
                    var announced = random.Next(1, 60) * 1024 * 1024;
                    var sent = random.Next(1, 300_000);
                    describe = $"case {i}: a box of {announced} bytes announced, {sent} sent, then the client left";
                    await using (var push = await HeldPush.StartAsync(server.BaseUrl, $"/{point}/Streams(trickle)"))
                    {
                        var header = new byte[8];
                        BinaryPrimitives.WriteInt32BigEndian(header, announced);
                        "mdat"u8.CopyTo(header.AsSpan(4));
                        var moof = (int)BinaryPrimitives.ReadUInt32BigEndian(fragmentsA[0]);
                        byte[] opening = [.. headerA, .. fragmentsA[0].AsSpan(0, moof), .. header];
                        await push.SendAsync(opening);
                        await push.SendAsync(new byte[sent]);
                    }

                    status = HttpStatusCode.OK;
                    break;
                }

                default:
                {
                    describe = $"case {i}: time-shift flood";
                    foreach (var resource in new[] { "Manifest", "master.m3u8", "hls/video-400000.m3u8", "manifest.mpd" })
                    {
                        for (var q = 0; q < 50; q++)
                        {
                            var query = random.Next(4) switch
                            {
                                0 => $"start={1_600_000_000 + random.Next()}",
                                1 => $"delay={random.NextDouble() * 1000:0.###}",
                                2 => $"start={random.Next()}&end={random.Next()}",
                                _ => $"end=not-a-time-{random.Next()}",
                            };
                            using var response = await server.Http.GetAsync($"live/good.isml/{resource}?{query}");
                            if ((int)response.StatusCode >= 500)
                            {
                                failures.Add($"{describe}: {resource}?{query} -> {(int)response.StatusCode}");
                            }
                        }
                    }

                    status = HttpStatusCode.OK;
                    break;
                }
            }

            foreach (var bad in (await PlayerCrawl.RunAsync(server.Http, point, perList: 2)).Where(PlayerCrawl.IsBad))
            {
                failures.Add($"{describe} ({(int)status}): GET {bad.Url} -> {(int)bad.Status} {bad.Error}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures.Take(20)));
        Assert.Equal(before, await server.Http.GetByteArrayAsync(fragmentUrl));
        await Eventually.WaitUntilAsync(() => memory.Total == 0, $"ingest still holds {memory.Total} bytes");
        // Archive files; the spool's copies of cached segments (which the crawl's repeated requests make) live as long as
        // their segments stay cached, under MaxSpooledFiles, and are not what this bounds.
        Assert.InRange(OpenFiles.Under(server.DataPath) - OpenFiles.Under(Path.Combine(server.DataPath, ".spool")), 0, 16);
        Assert.All(registry.All, p => Assert.True(p.Output.Count <= 8, $"{p.Path}: {p.Output.Count} rendered outputs kept"));
        Assert.All(Directory.GetDirectories(Path.Combine(server.DataPath, "live")), d => Assert.True(Directory.GetFiles(d, "*.ismv").Length <= 8, d));
    }

    private static void Expect(List<string> failures, string describe, HttpStatusCode status, params HttpStatusCode[] allowed)
    {
        if (!allowed.Contains(status))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{describe}: POST answered {(int)status}, expected {string.Join(" or ", allowed.Select(a => (int)a))}"));
        }
    }
}
