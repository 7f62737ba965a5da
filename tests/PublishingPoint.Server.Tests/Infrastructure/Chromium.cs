using Microsoft.Playwright;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium driven by Playwright (no browser download), started the way this machine needs, and the
/// player scripts that npm put in Browser/node_modules.
/// </summary>
public static class Chromium
{
    public static Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        ArgumentNullException.ThrowIfNull(playwright);
        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
        });
    }

    /// <summary>A file of an npm package of tests/PublishingPoint.Server.Tests/Browser, e.g. ("hls.js", "dist/hls.min.js").</summary>
    public static byte[] NodeModule(string package, string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Browser", "node_modules", package, file);
            if (File.Exists(candidate))
            {
                return File.ReadAllBytes(candidate);
            }
        }

        throw new FileNotFoundException($"{package}/{file} not found: run `npm ci` in tests/PublishingPoint.Server.Tests/Browser");
    }
}
