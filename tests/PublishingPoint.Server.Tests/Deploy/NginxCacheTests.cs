using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Deploy;

/// <summary>
/// deploy/nginx/publishingpoint.conf, as shipped, in a real nginx (Debian) in front of the origin: segments are
/// a miss then a hit, live playlists are cached no longer than the origin allows, operator routes stay closed.
/// </summary>
public sealed class NginxCacheTests
{
    [Fact]
    public async Task ShippedNginxConfig_CachesSegments_AndKeepsLivePlaylistsFresh()
    {
        await using var origin = await RunningServer.StartAsync();
        var push = Encoder.PushSmoothAsync(origin.Url("live/cdn.isml/Streams(a)"), new EncoderSettings { Seconds = 16 });
        var directory = TempDirectory.Create("pp-nginx");
        var port = FreePort();
        using var nginx = StartNginx(directory, origin.BaseUrl.Port, port);
        try
        {
            using var edge = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
            await Eventually.WaitUntilAsync(async () => HlsText.Segments(await origin.Http.GetStringAsync("live/cdn.isml/hls/video-400000.m3u8")).Count >= 2,
                "the origin never got the first segments", poll: TimeSpan.FromMilliseconds(250));

            using (var cold = await edge.GetAsync("live/cdn.isml/hls/video-400000/0.ts"))
            using (var warm = await edge.GetAsync("live/cdn.isml/hls/video-400000/0.ts"))
            {
                Assert.Equal("MISS", Status(cold));
                Assert.Equal("HIT", Status(warm));
                var direct = await origin.Http.GetByteArrayAsync("live/cdn.isml/hls/video-400000/0.ts");
                Assert.Equal(direct, await warm.Content.ReadAsByteArrayAsync());
            }

            using (var first = await edge.GetAsync("live/cdn.isml/hls/video-400000.m3u8"))
            using (var again = await edge.GetAsync("live/cdn.isml/hls/video-400000.m3u8"))
            {
                Assert.Equal("HIT", Status(again));
                var before = await first.Content.ReadAsStringAsync();
                // After more than the playlist's max-age and one more segment, the edge must not serve the old one.
                await Task.Delay(TimeSpan.FromSeconds(3));
                using var later = await edge.GetAsync("live/cdn.isml/hls/video-400000.m3u8");
                Assert.NotEqual("HIT", Status(later));
                Assert.NotEqual(before, await later.Content.ReadAsStringAsync());
            }

            using var api = await edge.GetAsync("api/points");
            Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        }
        finally
        {
            nginx.Kill(entireProcessTree: true);
            Assert.Equal(0, (await push).ExitCode);
        }
    }

    private static string Status(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Cache-Status", out var values) ? values.First() : "(none)";

    private static Process StartNginx(string directory, int originPort, int port)
    {
        var shipped = File.ReadAllText(Path.Combine(RepositoryRoot(), "deploy", "nginx", "publishingpoint.conf"));
        var site = shipped
            .Replace("127.0.0.1:5000;", $"127.0.0.1:{originPort};", StringComparison.Ordinal)
            .Replace("/var/cache/nginx/publishingpoint", Path.Combine(directory, "cache"), StringComparison.Ordinal)
            .Replace("listen 8080;", $"listen 127.0.0.1:{port};", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(directory, "site.conf"), site);
        File.WriteAllText(Path.Combine(directory, "nginx.conf"), $$"""
            daemon off;
            user root;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                include {{directory}}/site.conf;
            }
            """);
        var info = new ProcessStartInfo("/usr/sbin/nginx") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-p", directory, "-c", Path.Combine(directory, "nginx.conf") })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, port);
                return process;
            }
            catch (SocketException)
            {
                Assert.False(process.HasExited, $"nginx exited: {process.StandardError.ReadToEnd()}");
                Thread.Sleep(100);
            }
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException("nginx did not start listening");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PublishingPoint.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("repository root (PublishingPoint.sln) not found");
    }
}
