"""Attribution of every upstream source, as given in shared/data/raw/SOURCES.md and INDICATORS.md.

The snapshot MANIFEST copies these entries for each table built from a source.
"""

from __future__ import annotations

__all__ = ["SOURCES"]

SOURCES: dict[str, dict[str, str]] = {
    "kdiplo_kosis": {
        "raw_file": "kdiplo_kosis/trade_data.csv",
        "publisher": "Korea Customs Service / Statistics Korea (KOSIS table DT_1R11006_FRM101); "
        "Correlates of War Trade v4 where KOSIS lacks values",
        "license": "KOSIS public statistics (cite the source); COW free with citation "
        "(Barbieri & Keshk 2016); kdiplo package MIT",
        "upstream_repository": "kjayhan/kdiplo (data-raw/trade_data.csv)",
        "upstream_commit": "effe959172fadc9f858a372a8fe6757c67089f22 "
        "(file last changed acbb5391e844b2c35900a09304a71304d5a4e252)",
    },
    "imf_dots": {
        "raw_file": "imf_dots/dots_exports_by_partner_all_reporters_1960_2020.csv.gz",
        "publisher": "International Monetary Fund, Direction of Trade Statistics (now IMTS)",
        "license": "IMF terms of use: free reuse with attribution; repository code MIT",
        "upstream_repository": "SamLeBlanc/Direction-of-Trade-Map (data/DOTS/)",
        "upstream_commit": "a0b40afbac7cefc59a4b35c1ebe541ac546aafad "
        "(data committed a769819d9b25a21a362d6cabfb10f150903f834d)",
    },
    "wdi": {
        "raw_file": "wdi/*.csv",
        "publisher": "World Bank, World Development Indicators",
        "license": "CC BY 4.0",
        "upstream_repository": "datasets/world-development-indicators (indicators/<code>/data.csv)",
        "upstream_commit": "4ebec5a2273f531ba238a34dbe440394dc5a6c4b",
    },
    "imf_weo": {
        "raw_file": "imf_weo/weo_2025oct_values.csv",
        "publisher": "International Monetary Fund, World Economic Outlook database October 2025",
        "license": "IMF Copyright and Usage (imf.org/external/terms.htm), attribution required",
        "upstream_repository": "mitsuoxv/imf-weo (data/data_2510.rda)",
        "upstream_commit": "03b77af3bd6505ea93e5f3f7b342ccdb0a4c3433",
    },
    "imf_weo_vintages": {
        "raw_file": "imf_weo_vintages/weo_historical_forecasts.parquet",
        "publisher": "International Monetary Fund, WEO Historical Forecasts Database "
        "(WEOhistorical.xlsx, October 2024 edition)",
        "license": "IMF Copyright and Usage (imf.org/external/terms.htm), attribution required",
        "upstream_repository": "fredbec/uqimf (data/WEOforecasts_prefilter.parquet)",
        "upstream_commit": "d10f9690a71b8921a6ca2def8118aa8b48a3a512 "
        "(file last changed 8e18d30c7e2460f9c933a1a4769dc7e61e1d433f)",
        "rows": "vintages S1990-F2024 (prediction; outturn = tv_1 for target years to 2023)",
    },
    "imf_weo_latest_vintage": {
        "raw_file": "imf_weo/weo_2025oct_values.csv",
        "publisher": "International Monetary Fund, World Economic Outlook database October 2025",
        "license": "IMF Copyright and Usage (imf.org/external/terms.htm), attribution required",
        "upstream_repository": "mitsuoxv/imf-weo (data/data_2510.rda)",
        "upstream_commit": "03b77af3bd6505ea93e5f3f7b342ccdb0a4c3433",
        "rows": "vintage F2025 (NGDP_RPCH, PCPIPCH for 2025-2030; G001 = WLD) and the outturn "
        "of target year 2024 in every vintage (the October 2025 WEO's actual 2024 values)",
    },
    "gapminder_wpp": {
        "raw_file": "gapminder_wpp/*.csv",
        "publisher": "UN DESA Population Division, World Population Prospects 2024, "
        "compiled by Gapminder",
        "license": "CC BY 4.0 (Gapminder); WPP CC BY 3.0 IGO",
        "upstream_repository": "open-numbers/ddf--gapminder--systema_globalis",
        "upstream_commit": "c63631abeb62af6db3910f68be7c2b443beca50b "
        "(datapoints last changed 2a79f78fa4867e562b586f9dc8a9dd5f3a8bd92e)",
    },
    "wpp2024": {
        "raw_file": "wpp2024/population_projections_2024_2100.csv",
        "publisher": "UN DESA Population Division, World Population Prospects 2024",
        "license": "CC BY 3.0 IGO",
        "upstream_repository": "PPgp/wpp2024 (R package wpp2024 1.1-3)",
        "upstream_commit": "2da7768ae64fc74105d3f9e98f9a74d37b62f99a",
    },
    "cepii_geodist": {
        "raw_file": "cepii_geodist/dist_cepii.csv, cepii_geodist/geo_cepii.csv",
        "publisher": "CEPII GeoDist (Mayer & Zignago 2011, CEPII WP 2011-25)",
        "license": "free of charge for research with citation",
        "upstream_repository": "chrisssch/world-trade (data/dist_cepii.csv, data/geo_cepii.csv)",
        "upstream_commit": "98bdac87c07a20279ad2ff7e19e1f1e9ebd5f2da",
    },
    "korea_fta": {
        "raw_file": "fta/korea_fta.csv",
        "publisher": "WTO Regional Trade Agreements database plus official/press pages cited "
        "per row (compiled in shared/data/raw)",
        "license": "WTO website terms of use (attribution); row sources cited in the table",
        "upstream_repository": "mindstxrm/Geopolitiko (AllRTAs.xlsx) and cited pages",
        "upstream_commit": "1838d50b0ea18611e779fc8c0575d7f2236c6df1",
    },
    "country_ref": {
        "raw_file": "country_ref/countries.csv",
        "publisher": "ISO 3166-1 via pycountry 26.2.16; country_converter 1.3.2 groupings; "
        "World Bank CLASS FY2026",
        "license": "pycountry LGPL data of ISO 3166; country_converter GPL-3 data; "
        "World Bank CC BY 4.0",
        "upstream_repository": "compiled in shared/data/raw from pycountry, country_converter "
        "and GPID-WB/Class",
        "upstream_commit": "GPID-WB/Class 81d5fcb2851e499196103f0be708610cafe383eb",
    },
    "wb_class": {
        "raw_file": "wb_class/class_historical_fy1988_2026.csv",
        "publisher": "World Bank, income classification (CLASS)",
        "license": "CC BY 4.0",
        "upstream_repository": "GPID-WB/Class (OutputData/CLASS.dta, InputData/CLASS_FY2026.xlsx)",
        "upstream_commit": "81d5fcb2851e499196103f0be708610cafe383eb",
    },
}
