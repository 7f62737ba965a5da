using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Points;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>The operator API end to end: credentials, create, ingest rules, close while pushing, open, flush, delete, restart.</summary>
public sealed class PointsApiTests
{
    private const string Key = "operator-key-123";

    /// <summary>
    /// "Closed until an operator opens it" (a review found it kept only in memory: after any restart the same encoder
    /// pushed again, and a closed point that never had media was forgotten when its connection went).
    /// </summary>
    [Fact]
    public async Task AClosedPoint_StaysClosed_AcrossARestart_AndWithoutMedia()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var server = await RunningServer.StartAsync();
        var data = server.DataPath;
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/shut.isml/Streams(a)", capture)).Status);
            Assert.Equal(HttpStatusCode.OK, (await server.Http.PostAsync("api/points/live/shut.isml/close", JsonContent.Create(new { }))).StatusCode);

            // Never fed: closed while its first push holds only a header, which the close cuts off.
            await using var empty = await HeldPush.StartAsync(server.BaseUrl, "/live/empty.isml/Streams(a)");
            await empty.SendAsync(capture.AsMemory(0, 8));
            await Eventually.WaitUntilAsync(() => server.Services.GetRequiredService<PointRegistry>().Find("live/empty.isml") is not null, "the push made no point");
            Assert.Equal(HttpStatusCode.OK, (await server.Http.PostAsync("api/points/live/empty.isml/close", JsonContent.Create(new { }))).StatusCode);
            await empty.FinishAsync();
            Assert.Equal(HttpStatusCode.Conflict, (await Posting.PostChunkedAsync(server.Http, "live/empty.isml/Streams(a)", capture)).Status);
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await RunningServer.StartAsync(data);
        foreach (var point in new[] { "live/shut.isml", "live/empty.isml" })
        {
            Assert.Equal(HttpStatusCode.Conflict, (await Posting.PostChunkedAsync(restarted.Http, $"{point}/Streams(b)", capture)).Status);
            var view = await restarted.Http.GetFromJsonAsync<JsonElement>($"api/points/{point}");
            Assert.True(view.GetProperty("closed").GetBoolean(), point);
        }

        Assert.Equal(HttpStatusCode.OK, (await restarted.Http.PostAsync("api/points/live/shut.isml/open", JsonContent.Create(new { }))).StatusCode);
        Assert.False(File.Exists(Path.Combine(data, "live", "shut.isml", PointRegistry.ClosedMarker)));
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(restarted.Http, "live/shut.isml/Streams(b)", capture)).Status);
    }

    [Fact]
    public async Task OperatorLifecycle_CreatePushCloseOpenFlushDelete()
    {
        var server = await RunningServer.StartAsync(null, $"--PublishingPoint:AdminApiKey={Key}", "--PublishingPoint:FinalizeGraceSeconds=30");
        var data = server.DataPath;
        try
        {
            using (var anonymous = await server.Http.GetAsync("api/points"))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            }

            using (var wrong = await Send(server, HttpMethod.Get, "api/points", key: "nope"))
            {
                Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
            }

            var create = new { path = "live/api.isml", dvrWindowSeconds = 20, allowedIngest = new[] { "Fmp4" }, ingestSecret = "ingest-secret-1", restartOnReconnect = false };
            using (var created = await Send(server, HttpMethod.Post, "api/points", create))
            {
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }

            using (var again = await Send(server, HttpMethod.Post, "api/points", create))
            {
                Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            }

            using (var other = await Send(server, HttpMethod.Post, "api/points", create with { dvrWindowSeconds = 60 }))
            {
                Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
            }

            Assert.True(File.Exists(Path.Combine(data, "live", "api.isml", "point.json")));

            // Ingest rules: the point's secret, and only the protocols it allows.
            var capture = await IsmvCapture.SixSecondsAsync();
            Assert.Equal(HttpStatusCode.Unauthorized, (await Posting.PostChunkedAsync(server.Http, "live/api.isml/Streams(a)", capture)).Status);
            Assert.Equal(HttpStatusCode.Forbidden, (await Posting.PostChunkedAsync(server.Http, "live/api.isml/Streams(a)?token=wrong-secret", capture)).Status);
            var ts = new byte[188 * 8];
            for (var i = 0; i < ts.Length; i += 188)
            {
                ts[i] = 0x47;
            }

            Assert.Equal(HttpStatusCode.Forbidden, (await Posting.PostChunkedAsync(server.Http, "live/api.isml/Streams(t)?token=ingest-secret-1", ts)).Status);

            // Close while an encoder pushes in real time: it is cut off with a clear status, what it sent stays.
            var push = Encoder.PushSmoothAsync(server.Url("live/api.isml/Streams(enc)?token=ingest-secret-1"), new EncoderSettings { Seconds = 30 });
            var live = await WaitForAsync(server, "live/api.isml", p => p.GetProperty("state").GetString() == "live"
                && p.GetProperty("tracks").EnumerateArray().Any(t => t.GetProperty("fragments").GetInt32() >= 2));
            Assert.Equal("127.0.0.1", live.GetProperty("streams")[0].GetProperty("remoteAddress").GetString());
            Assert.Equal(20, live.GetProperty("dvrWindowSeconds").GetInt32());
            using (var close = await Send(server, HttpMethod.Post, "api/points/live/api.isml/close"))
            {
                Assert.Equal(HttpStatusCode.OK, close.StatusCode);
                var closed = await close.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal("vod", closed.GetProperty("state").GetString());
                Assert.True(closed.GetProperty("closed").GetBoolean());
            }

            var encoder = await push.WaitAsync(TimeSpan.FromSeconds(15));
            Assert.NotEqual(0, encoder.ExitCode); // ffmpeg saw its push refused
            var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/api.isml/Manifest");
            Assert.False(manifest.IsLive);
            Assert.True(manifest.ChunkTimes("video").Length >= 2);
            Assert.Equal(HttpStatusCode.Conflict, (await Posting.PostChunkedAsync(server.Http, "live/api.isml/Streams(b)?token=ingest-secret-1", capture)).Status);

            // Idempotent close; open takes ingest again; flush writes the manifests.
            using (var twice = await Send(server, HttpMethod.Post, "api/points/live/api.isml/close"))
            {
                Assert.Equal(HttpStatusCode.OK, twice.StatusCode);
            }

            using (var open = await Send(server, HttpMethod.Post, "api/points/live/api.isml/open"))
            {
                Assert.Equal(HttpStatusCode.OK, open.StatusCode);
            }

            Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/api.isml/Streams(b)?token=ingest-secret-1", capture)).Status);
            File.Delete(Path.Combine(data, "live", "api.isml", "api.ismc"));
            using (var flush = await Send(server, HttpMethod.Post, "api/points/live/api.isml/flush"))
            {
                Assert.Equal(HttpStatusCode.OK, flush.StatusCode);
            }

            Assert.True(File.Exists(Path.Combine(data, "live", "api.isml", "api.ismc")));

            var list = await (await Send(server, HttpMethod.Get, "api/points")).Content.ReadFromJsonAsync<JsonElement>();
            var point = list.EnumerateArray().Single(p => p.GetProperty("path").GetString() == "live/api.isml");
            Assert.Equal(2, point.GetProperty("streams").GetArrayLength());
            Assert.Contains(point.GetProperty("tracks").EnumerateArray(), t => t.GetProperty("codec").GetString()!.StartsWith("avc1.", StringComparison.Ordinal));
            Assert.True(point.GetProperty("archiveBytes").GetInt64() > 100_000);

            using var openApi = await Send(server, HttpMethod.Get, "openapi/v1.json");
            Assert.Contains("/api/points", await openApi.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await server.DisposeAsync();
        }

        // Settings survive a restart; delete removes the point and its files, twice without harm.
        await using var restarted = await RunningServer.StartAsync(data, $"--PublishingPoint:AdminApiKey={Key}");
        var recovered = await (await Send(restarted, HttpMethod.Get, "api/points/live/api.isml")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(20, recovered.GetProperty("settings").GetProperty("dvrWindowSeconds").GetInt32());
        Assert.Equal("(set)", recovered.GetProperty("settings").GetProperty("ingestSecret").GetString()); // never echoed back
        Assert.Equal("vod", recovered.GetProperty("state").GetString());
        var deletedPoint = restarted.Services.GetRequiredService<PointRegistry>().Find("live/api.isml")!;
        using (var delete = await Send(restarted, HttpMethod.Delete, "api/points/live/api.isml"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.False(Directory.Exists(Path.Combine(data, "live", "api.isml")));
        // A flush that took the point just before the delete (the race an operator's two clicks make) writes nothing
        // into the folder: it would be deleted half, or come back as a point at the next start.
        Assert.False(restarted.Services.GetRequiredService<PointRegistry>().Flush(deletedPoint));
        Assert.False(Directory.Exists(Path.Combine(data, "live", "api.isml")));
        using (var gone = await Send(restarted, HttpMethod.Get, "api/points/live/api.isml"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        using var deleteAgain = await Send(restarted, HttpMethod.Delete, "api/points/live/api.isml");
        Assert.Equal(HttpStatusCode.NoContent, deleteAgain.StatusCode);
    }

    [Fact]
    public async Task WithoutAKey_TheApiIsOpenToLoopbackOnly_AndRefusesBadInput()
    {
        await using var server = await RunningServer.StartAsync();
        using var list = await server.Http.GetAsync("api/points");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using var bad = await server.Http.PostAsJsonAsync("api/points", new { path = "../etc/x.isml" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        // A point inside a point: playback URLs would reach the outer one, and deleting it would delete the inner one's files.
        using var nested = await server.Http.PostAsJsonAsync("api/points", new { path = "live/ch1.isml/goal.isml" });
        Assert.Equal(HttpStatusCode.BadRequest, nested.StatusCode);
        using var nestedClip = await server.Http.PostAsJsonAsync("api/clips", new { source = "live/ch1.isml", path = "live/ch1.ISML/goal.isml", start = "0", end = "10" });
        Assert.Equal(HttpStatusCode.BadRequest, nestedClip.StatusCode);
        // Under the server's own routes no player could reach it: /dashboard/... is the dashboard, GET /api/points/... the API.
        foreach (var reserved in new[] { "dashboard/x.isml", "API/points/x.isml", "s/x.isml" })
        {
            using var taken = await server.Http.PostAsJsonAsync("api/points", new { path = reserved });
            Assert.Equal(HttpStatusCode.BadRequest, taken.StatusCode);
            Assert.Contains("the server's own", await taken.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var window = await server.Http.PostAsJsonAsync("api/points", new { path = "live/w.isml", dvrWindowSeconds = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, window.StatusCode);
        using var action = await server.Http.PostAsync("api/points/live/none.isml/close", JsonContent.Create(new { }));
        Assert.Equal(HttpStatusCode.NotFound, action.StatusCode);
    }

    private static async Task<JsonElement> WaitForAsync(RunningServer server, string path, Func<JsonElement, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await Send(server, HttpMethod.Get, $"api/points/{path}");
            if (response.IsSuccessStatusCode)
            {
                var point = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (condition(point))
                {
                    return point;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"{path} never reached the expected state");
            await Task.Delay(250);
        }
    }

    private static Task<HttpResponseMessage> Send(RunningServer server, HttpMethod method, string url, object? body = null, string key = Key)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Add("X-Api-Key", key);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return server.Http.SendAsync(request);
    }
}
