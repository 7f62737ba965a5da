using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hosting;

/// <summary>
/// The appliance artefact: README's single-file publish (here without ReadyToRun, which only makes it start faster)
/// runs from a folder of its own, started from another one, and serves its front page, dashboard and API there.
/// </summary>
public sealed partial class SingleFileReleaseTests
{
    [Fact]
    public async Task SingleFileExecutable_RunsFromAnyFolder_ServesTheDashboard_AndKeepsDataWhereItWasStarted()
    {
        var output = TempDirectory.Create("pp-release");
        var publish = await Tool.RunAsync("dotnet",
            ["publish", Path.Combine(ShippedNginx.RepositoryRoot(), "src", "PublishingPoint.Server"), "-c", "Release", "-r", "linux-x64", "--self-contained",
             "-p:PublishSingleFile=true", "-o", output], TimeSpan.FromMinutes(4));
        Assert.True(publish.ExitCode == 0, Tool.Describe(publish));
        Assert.Equal(["PublishingPoint.Server", "appsettings.json", "dashboard"], Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var workingDirectory = TempDirectory.Create("pp-release-run");
        var info = new ProcessStartInfo(Path.Combine(output, "PublishingPoint.Server")) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("--urls=http://127.0.0.1:0");
        using var process = Process.Start(info)!;
        try
        {
            Uri? address = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (address is null && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (Listening().Match(line) is { Success: true } match)
                {
                    address = new Uri(match.Groups[1].Value + "/");
                }
            }

            Assert.NotNull(address);
            using var http = new HttpClient { BaseAddress = address };
            await Eventually.WaitUntilAsync(async () => (await http.GetAsync("health/ready")).IsSuccessStatusCode, "never ready");
            foreach (var path in new[] { "", "dashboard", "dashboard/lib/hls.min.js", "api/points" })
            {
                using var response = await http.GetAsync(path);
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"/{path}: {(int)response.StatusCode}");
            }

            Assert.True(Directory.Exists(Path.Combine(workingDirectory, "data")));
            Assert.False(Directory.Exists(Path.Combine(output, "data")));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Listening();
}
