using System.Diagnostics;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hosting;

/// <summary>What a newcomer meets: a page at /, a console that says where things are, data where they started the server.</summary>
public sealed class FrontDoorTests
{
    [Fact]
    public async Task Root_IsAPageNamingIngestPlaybackAndTheDashboard_WithoutEchoingTheHost()
    {
        using var server = new InProcessServer();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Host = "localhost";
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var page = await response.Content.ReadAsStringAsync();
        foreach (var expected in new[] { "Streams({id})", "master.m3u8", "manifest.mpd", "/Manifest", "href=\"dashboard\"", "href=\"openapi/v1.json\"" })
        {
            Assert.Contains(expected, page, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("localhost", page, StringComparison.Ordinal);
        using var dashboard = await server.Http.GetAsync("dashboard");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
    }

    /// <summary>A review's finding: with "/var/lib/publishingpoint/" every new point answered 500, and every publish failed.</summary>
    [Fact]
    public async Task FoldersSetWithATrailingSlash_WorkAsWithout()
    {
        var data = TempDirectory.Create("pp-data") + "/";
        var www = TempDirectory.Create("pp-www") + "/";
        await using var server = await RunningServer.StartAsync(data, "--PublishingPoint:Publish:Target=FileSystem", $"--PublishingPoint:Publish:Path={www}",
            "--PublishingPoint:Publish:Formats:0=Hls");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, "live/slash.isml/Streams(a)", await IsmvCapture.SixSecondsAsync());
        Assert.True(status == System.Net.HttpStatusCode.OK, body);
        Assert.True(Directory.Exists(Path.Combine(data, "live", "slash.isml")));
        await Eventually.WaitUntilAsync(() => File.Exists(Path.Combine(www, "live", "slash.isml", "master.m3u8")), "nothing was published");
    }

    [Fact]
    public async Task RelativeDataPath_IsUnderTheWorkingDirectory_OrSystemdsStateDirectory_AndIsNamedAtStart()
    {
        var workingDirectory = TempDirectory.Create("pp-cwd");
        var output = await RunUntilAsync(workingDirectory, null, "Data folder:");
        Assert.Contains($"Data folder: {Path.Combine(workingDirectory, "data")}", output, StringComparison.Ordinal);
        Assert.Contains("Ingest: POST http://127.0.0.1:", output, StringComparison.Ordinal);
        Assert.Contains("/dashboard", output, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(workingDirectory, "data")));

        var state = TempDirectory.Create("pp-state");
        output = await RunUntilAsync(workingDirectory, state, "Data folder:");
        Assert.Contains($"Data folder: {Path.Combine(state, "data")}", output, StringComparison.Ordinal);
    }

    /// <summary>Starts the server in <paramref name="workingDirectory"/> (on a free loopback port) and stops it once it printed <paramref name="line"/>.</summary>
    private static async Task<string> RunUntilAsync(string workingDirectory, string? stateDirectory, string line)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "PublishingPoint.Server.dll"));
        info.ArgumentList.Add("--urls=http://127.0.0.1:0");
        if (stateDirectory is not null)
        {
            info.Environment["STATE_DIRECTORY"] = stateDirectory;
        }

        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } text)
            {
                output.AppendLine(text);
                if (text.Contains(line, StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        return output.ToString();
    }
}
